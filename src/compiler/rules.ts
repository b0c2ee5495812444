import type { EntityRule, Port, Rule } from '../model/schemas.js';
import { formatElement, normaliseNets, parseCidr, type Cidr } from './cidr.js';
import type { CompileContext } from './context.js';
import type { AddressSet, CompiledRule, EntityMatch, Family, FamilyMatch, NamedPortSet, PortMatch, RuleAction } from './ir.js';
import { shortHash } from './names.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, protocolNumber } from './protocols.js';

const ACTIONS: Record<Rule['action'], RuleAction> = { Allow: 'allow', Deny: 'deny', Pass: 'pass', Log: 'log' };

/** The address and named-port sets one host's rules reference, each built once. */
export class SetRegistry {
  readonly addressSets = new Map<string, AddressSet>();
  readonly namedPortSets = new Map<string, NamedPortSet>();

  constructor(private readonly ctx: CompileContext) {}

  addressSet(family: Family, selector: string | undefined, notSelector: string | undefined): string {
    const { canonical, members } = this.ctx.membersOf(selector, notSelector);
    const id = `s${family}_${shortHash(canonical)}`;
    if (!this.addressSets.has(id)) {
      const nets = normaliseNets(members.flatMap((m) => m.nets).filter((c) => c.family === family));
      this.addressSets.set(id, { id, family, selector: canonical, elements: nets.map(formatElement) });
    }
    return id;
  }

  namedPortSet(family: Family, entity: EntityRule, names: string[], protocol: number): string {
    const { canonical, members } = this.ctx.membersOf(entity.selector, entity.notSelector);
    const port = [...new Set(names)].sort().join(',');
    const id = `n${family}_${shortHash(`${canonical}|${port}|${protocol}`)}`;
    if (!this.namedPortSets.has(id)) {
      const elements = new Map<string, { address: string; protocol: number; port: number }>();
      for (const m of members) {
        for (const p of m.hep?.spec.ports ?? []) {
          if (!names.includes(p.name) || protocolNumber(p.protocol) !== protocol) continue;
          for (const net of m.nets.filter((c) => c.family === family)) {
            const address = formatElement(net);
            elements.set(`${address}|${p.port}`, { address, protocol, port: p.port });
          }
        }
      }
      const sorted = [...elements.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
      this.namedPortSets.set(id, { id, family, selector: canonical, port, elements: sorted });
    }
    return id;
  }
}

function netsOf(list: string[]): Cidr[] {
  return list.map((n) => parseCidr(n));
}

/**
 * Compiles one rule into per-family matches (calico-model.md §5.2: a rule is rendered once per
 * family it can match). A rule with nothing family-specific stays one family-neutral match.
 */
export function compileRule(rule: Rule, index: number, sets: SetRegistry): CompiledRule {
  const protocol = rule.protocol !== undefined ? protocolNumber(rule.protocol) : undefined;
  const notProtocol = rule.notProtocol !== undefined ? protocolNumber(rule.notProtocol) : undefined;
  const allNets = [rule.source.nets, rule.source.notNets, rule.destination.nets, rule.destination.notNets].flatMap(netsOf);

  let families: Family[] = [4, 6];
  if (rule.ipVersion) families = [rule.ipVersion];
  if (protocol === PROTO_ICMP) families = families.filter((f) => f === 4);
  if (protocol === PROTO_ICMPV6) families = families.filter((f) => f === 6);
  for (const f of [4, 6] as const) if (allNets.length > 0 && !allNets.some((n) => n.family === f)) families = families.filter((x) => x !== f);

  const hasNamedPorts = [rule.source, rule.destination].some((e) => [...e.ports, ...e.notPorts].some((p) => p.kind === 'named'));
  const hasSelectors = [rule.source, rule.destination].some((e) => e.selector !== undefined || e.notSelector !== undefined);
  const familySpecific =
    rule.ipVersion !== undefined || allNets.length > 0 || hasNamedPorts || hasSelectors || rule.icmp !== undefined || rule.notICMP !== undefined || protocol === PROTO_ICMP || protocol === PROTO_ICMPV6;

  const build = (family: Family | null): FamilyMatch => {
    const m: FamilyMatch = {
      family,
      src: entityMatch(rule.source, family, protocol, sets),
      dst: entityMatch(rule.destination, family, protocol, sets),
    };
    if (protocol !== undefined) m.protocol = protocol;
    if (notProtocol !== undefined) m.notProtocol = notProtocol;
    if (rule.icmp?.type !== undefined) m.icmp = icmpOf(rule.icmp.type, rule.icmp.code);
    if (rule.notICMP?.type !== undefined) m.notIcmp = icmpOf(rule.notICMP.type, rule.notICMP.code);
    return m;
  };
  return { index, action: ACTIONS[rule.action], matches: familySpecific ? families.map(build) : [build(null)] };
}

const icmpOf = (type: number, code: number | undefined) => (code === undefined ? { type } : { type, code });

function entityMatch(e: EntityRule, family: Family | null, protocol: number | undefined, sets: SetRegistry): EntityMatch {
  const out: EntityMatch = {};
  const inFamily = (list: string[]) => normaliseNets(netsOf(list).filter((c) => family === null || c.family === family)).map(formatElement);
  if (e.nets.length > 0) out.nets = inFamily(e.nets);
  if (e.notNets.length > 0) out.notNets = inFamily(e.notNets);
  if (family !== null && e.selector !== undefined) out.set = sets.addressSet(family, e.selector, e.notSelector);
  else if (family !== null && e.notSelector !== undefined) out.notSet = sets.addressSet(family, undefined, e.notSelector);
  // Calico looks named ports up for UDP or SCTP rules as such, for anything else as TCP.
  const portProto = protocol === PROTO_UDP || protocol === PROTO_SCTP ? protocol : PROTO_TCP;
  const ports = portMatch(e.ports, family, e, portProto, sets);
  const notPorts = portMatch(e.notPorts, family, e, portProto, sets);
  if (ports) out.ports = ports;
  if (notPorts) out.notPorts = notPorts;
  return out;
}

function portMatch(ports: Port[], family: Family | null, e: EntityRule, protocol: number, sets: SetRegistry): PortMatch | undefined {
  if (ports.length === 0) return undefined;
  const ranges = ports.flatMap((p) => (p.kind === 'range' ? [[p.min, p.max] as [number, number]] : []));
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const names = ports.flatMap((p) => (p.kind === 'named' ? [p.name] : []));
  const out: PortMatch = { ranges: mergeRanges(ranges) };
  if (names.length > 0 && family !== null) out.namedSet = sets.namedPortSet(family, e, names, protocol);
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
