import { containsAddress, parseCidr } from '../net/cidr.js';
import { protocolNumber } from '../compiler/protocols.js';
import type { EntityRule, Port, Rule } from '../model/schemas.js';

/**
 * Conservative rule algebra for lints: `covers(a, b)` is true only when every packet `b` matches
 * is certainly matched by `a`; `mayOverlap(a, b)` is false only when no packet can match both.
 * When in doubt, neither claims anything, so a lint never fires on a guess.
 */

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const proto = (p: Rule['protocol']) => (p === undefined ? undefined : protocolNumber(p));

export function covers(a: Rule, b: Rule): boolean {
  if (a.http !== undefined) return false;
  if (a.ipVersion !== undefined && a.ipVersion !== b.ipVersion) return false;
  if (a.protocol !== undefined && proto(a.protocol) !== proto(b.protocol)) return false;
  if (a.notProtocol !== undefined && !(proto(b.notProtocol) === proto(a.notProtocol) || (b.protocol !== undefined && proto(b.protocol) !== proto(a.notProtocol)))) return false;
  if (a.icmp !== undefined && !(b.icmp !== undefined && a.icmp.type === b.icmp.type && (a.icmp.code === undefined || a.icmp.code === b.icmp.code))) return false;
  if (a.notICMP !== undefined && !same(a.notICMP, b.notICMP)) return false;
  return entityCovers(a.source, b.source) && entityCovers(a.destination, b.destination);
}

function entityCovers(a: EntityRule, b: EntityRule): boolean {
  if (a.selector !== undefined && a.selector !== b.selector) return false;
  if (a.notSelector !== undefined && a.notSelector !== b.notSelector) return false;
  for (const k of ['namespaceSelector', 'serviceAccounts', 'services'] as const) if (a[k] !== undefined && !same(a[k], b[k])) return false;
  if (a.nets.length > 0 && !(b.nets.length > 0 && b.nets.every((n) => a.nets.some((m) => netContains(m, n))))) return false;
  if (a.notNets.length > 0 && !a.notNets.every((n) => b.notNets.includes(n))) return false;
  if (a.ports.length > 0 && !(b.ports.length > 0 && b.ports.every((p) => a.ports.some((q) => portContains(q, p))))) return false;
  if (a.notPorts.length > 0 && !a.notPorts.every((p) => b.notPorts.some((q) => portContains(q, p)))) return false;
  return true;
}

function netContains(outer: string, inner: string): boolean {
  const o = parseCidr(outer);
  const i = parseCidr(inner);
  return containsAddress(o, i);
}

function portContains(outer: Port, inner: Port): boolean {
  if (outer.kind === 'named' || inner.kind === 'named') return same(outer, inner);
  return outer.min <= inner.min && inner.max <= outer.max;
}

/** False only when the two rules provably match disjoint packets (protocol, version, ports). */
export function mayOverlap(a: Rule, b: Rule): boolean {
  if (a.ipVersion !== undefined && b.ipVersion !== undefined && a.ipVersion !== b.ipVersion) return false;
  if (a.protocol !== undefined && b.protocol !== undefined && proto(a.protocol) !== proto(b.protocol)) return false;
  const numeric = (ports: Port[]) => (ports.every((p) => p.kind === 'range') ? (ports as Extract<Port, { kind: 'range' }>[]) : null);
  const pa = numeric(a.destination.ports);
  const pb = numeric(b.destination.ports);
  if (pa && pb && pa.length > 0 && pb.length > 0 && !pa.some((x) => pb.some((y) => x.min <= y.max && y.min <= x.max))) return false;
  return true;
}

/** Whether the rule's destination ports name `port` (numeric ports only). */
export function namesPort(rule: Rule, port: number): boolean {
  return rule.destination.ports.some((p) => p.kind === 'range' && p.min <= port && port <= p.max);
}

/** Whether the rule narrows who the peer is (nets or selectors on the remote side). */
export function restrictsPeer(rule: Rule, direction: 'ingress' | 'egress'): boolean {
  const e = direction === 'ingress' ? rule.source : rule.destination;
  return e.nets.length > 0 || e.notNets.length > 0 || e.selector !== undefined || e.notSelector !== undefined;
}
