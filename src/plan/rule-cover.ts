import { protocolNumber } from '../compiler/protocols.js';
import type { Port, Rule } from '../model/schemas.js';

/**
 * Conservative rule comparisons for the order-tie and failsafe lints: `mayOverlap(a, b)` is
 * false only when no packet can match both. When in doubt it claims nothing, so a lint never
 * fires on a guess. (Which rules are unreachable is decided exactly, over the header space.)
 */

const proto = (p: Rule['protocol']) => (p === undefined ? undefined : protocolNumber(p));

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
