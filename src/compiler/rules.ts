import type { EntityRule, Port, Rule } from '../model/schemas.js';
import { entitySelector } from './entity-selector.js';
import { formatElement, normaliseNets, parseCidr, type Cidr } from '../net/cidr.js';
import type { Selectable } from './context.js';
import type { AddressSet, CompiledRule, EntityMatch, Family, FamilyMatch, NamedPortSet, PortMatch, RuleAction } from './ir.js';
import { shortHash } from './names.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, protocolNumber } from './protocols.js';

const ACTIONS: Record<Rule['action'], RuleAction> = { Allow: 'allow', Deny: 'deny', Pass: 'pass', Log: 'log' };

/** The selectors an entity rule's peers are chosen by, after Calico's rewriting (entity-selector.ts). */
interface Peers {
  selector: string | undefined;
  notSelector: string | undefined;
}

const peersOf = (e: EntityRule): Peers => ({ selector: entitySelector(e), notSelector: e.notSelector || undefined });

/** A set a compiled rule references: its id is a function of its definition, its members of the revision. */
export type SetRequest =
  | { kind: 'address'; id: string; family: Family; selector: string | undefined; notSelector: string | undefined }
  | { kind: 'namedPort'; id: string; family: Family; selector: string | undefined; notSelector: string | undefined; names: string[]; protocol: number };

/**
 * Names the sets rules reference while they compile, without looking at members: compiled rules
 * then depend on nothing but their own text and can be shared by every host and revision.
 */
export class SetRequests {
  private readonly byId = new Map<string, SetRequest>();

  /** `canonicalOf` gives the canonical text of `selector && !notSelector`: the set's identity. */
  constructor(private readonly canonicalOf: (selector: string | undefined, notSelector: string | undefined) => string) {}

  get list(): SetRequest[] {
    return [...this.byId.values()];
  }

  addressSet(family: Family, selector: string | undefined, notSelector: string | undefined): string {
    const id = `s${family}_${shortHash(this.canonicalOf(selector, notSelector))}`;
    if (!this.byId.has(id)) this.byId.set(id, { kind: 'address', id, family, selector, notSelector });
    return id;
  }

  namedPortSet(family: Family, peers: Peers, names: string[], protocol: number): string {
    const unique = [...new Set(names)].sort();
    const id = `n${family}_${shortHash(`${this.canonicalOf(peers.selector, peers.notSelector)}|${unique.join(',')}|${protocol}`)}`;
    if (!this.byId.has(id)) this.byId.set(id, { kind: 'namedPort', id, family, selector: peers.selector, notSelector: peers.notSelector, names: unique, protocol });
    return id;
  }
}

/** The members of an address set, normalised for an nft interval set. */
export function addressSetOf(req: Extract<SetRequest, { kind: 'address' }>, canonical: string, members: readonly Selectable[]): AddressSet {
  const nets = normaliseNets(members.flatMap((m) => m.nets).filter((c) => c.family === req.family));
  return { id: req.id, family: req.family, selector: canonical, elements: nets.map(formatElement) };
}

/** `address . protocol . port` tuples of the members' named ports (HEP `ports`) with the requested names. */
export function namedPortSetOf(req: Extract<SetRequest, { kind: 'namedPort' }>, canonical: string, members: readonly Selectable[]): NamedPortSet {
  const elements = new Map<string, { address: string; protocol: number; port: number }>();
  for (const m of members) {
    for (const p of m.hep?.spec.ports ?? []) {
      if (!req.names.includes(p.name) || protocolNumber(p.protocol) !== req.protocol) continue;
      for (const net of m.nets.filter((c) => c.family === req.family)) {
        const address = formatElement(net);
        elements.set(`${address}|${p.port}`, { address, protocol: req.protocol, port: p.port });
      }
    }
  }
  const sorted = [...elements.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  return { id: req.id, family: req.family, selector: canonical, port: req.names.join(','), elements: sorted };
}

function netsOf(list: string[]): Cidr[] {
  return list.map((n) => parseCidr(n));
}

/**
 * Compiles one rule into per-family matches (docs/calico-model.md §5.2: a rule is rendered once per
 * family it can match). A rule with nothing family-specific stays one family-neutral match.
 */
export function compileRule(rule: Rule, index: number, sets: SetRequests): CompiledRule {
  const protocol = rule.protocol !== undefined ? protocolNumber(rule.protocol) : undefined;
  const notProtocol = rule.notProtocol !== undefined ? protocolNumber(rule.notProtocol) : undefined;
  const allNets = [rule.source.nets, rule.source.notNets, rule.destination.nets, rule.destination.notNets].flatMap(netsOf);

  let families: Family[] = [4, 6];
  if (rule.ipVersion) families = [rule.ipVersion];
  if (protocol === PROTO_ICMP) families = families.filter((f) => f === 4);
  if (protocol === PROTO_ICMPV6) families = families.filter((f) => f === 6);
  for (const f of [4, 6] as const) if (allNets.length > 0 && !allNets.some((n) => n.family === f)) families = families.filter((x) => x !== f);

  const hasNamedPorts = [rule.source, rule.destination].some((e) => [...e.ports, ...e.notPorts].some((p) => p.kind === 'named'));
  const src = peersOf(rule.source);
  const dst = peersOf(rule.destination);
  const hasSelectors = [src, dst].some((p) => p.selector !== undefined || p.notSelector !== undefined);
  const familySpecific =
    rule.ipVersion !== undefined || allNets.length > 0 || hasNamedPorts || hasSelectors || rule.icmp !== undefined || rule.notICMP !== undefined || protocol === PROTO_ICMP || protocol === PROTO_ICMPV6;

  const build = (family: Family | null): FamilyMatch => {
    const m: FamilyMatch = {
      family,
      src: entityMatch(rule.source, src, family, protocol, sets),
      dst: entityMatch(rule.destination, dst, family, protocol, sets),
    };
    if (protocol !== undefined) m.protocol = protocol;
    if (notProtocol !== undefined) m.notProtocol = notProtocol;
    if (rule.icmp?.type !== undefined) m.icmp = icmpOf(rule.icmp.type, rule.icmp.code);
    if (rule.notICMP?.type !== undefined) m.notIcmp = icmpOf(rule.notICMP.type, rule.notICMP.code);
    return m;
  };
  // A Kubernetes service match resolves to the service's endpoints; a host repository has none,
  // so the rule never matches (Felix's set for it stays empty; rules.go:154 copies the match).
  if (rule.source.services || rule.destination.services) return { index, action: ACTIONS[rule.action], matches: [] };
  return { index, action: ACTIONS[rule.action], matches: familySpecific ? families.map(build) : [build(null)] };
}

const icmpOf = (type: number, code: number | undefined) => (code === undefined ? { type } : { type, code });

function entityMatch(e: EntityRule, peers: Peers, family: Family | null, protocol: number | undefined, sets: SetRequests): EntityMatch {
  const out: EntityMatch = {};
  const inFamily = (list: string[]) => normaliseNets(netsOf(list).filter((c) => family === null || c.family === family)).map(formatElement);
  if (e.nets.length > 0) out.nets = inFamily(e.nets);
  if (e.notNets.length > 0) out.notNets = inFamily(e.notNets);
  if (family !== null && peers.selector !== undefined) out.set = sets.addressSet(family, peers.selector, peers.notSelector);
  else if (family !== null && peers.notSelector !== undefined) out.notSet = sets.addressSet(family, undefined, peers.notSelector);
  // Calico looks named ports up for UDP or SCTP rules as such, for anything else as TCP.
  const portProto = protocol === PROTO_UDP || protocol === PROTO_SCTP ? protocol : PROTO_TCP;
  const ports = portMatch(e.ports, family, peers, portProto, sets);
  const notPorts = portMatch(e.notPorts, family, peers, portProto, sets);
  if (ports) out.ports = ports;
  if (notPorts) out.notPorts = notPorts;
  return out;
}

function portMatch(ports: Port[], family: Family | null, peers: Peers, protocol: number, sets: SetRequests): PortMatch | undefined {
  if (ports.length === 0) return undefined;
  const ranges = ports.flatMap((p) => (p.kind === 'range' ? [[p.min, p.max] as [number, number]] : []));
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const names = ports.flatMap((p) => (p.kind === 'named' ? [p.name] : []));
  const out: PortMatch = { ranges: mergeRanges(ranges) };
  if (names.length > 0 && family !== null) out.namedSet = sets.namedPortSet(family, peers, names, protocol);
  return out;
}

/** Overlapping port ranges would be rejected by nft in one anonymous interval set. */
function mergeRanges(sorted: [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}
