import { parseCidr } from '../net/cidr.js';
import type { FailsafeRule } from '../compiler/failsafe.js';
import type { CompiledRule, EntityMatch, Family, FamilyMatch, HostProgram, IcmpMatch, PortMatch } from '../compiler/ir.js';
import { PROTO_TCP, PROTO_UDP } from '../compiler/protocols.js';
import { addressBits, boxWith, DPORT, DST, ICMP_CODE, ICMP_TYPE, intersect, PROTO, SPORT, SRC, subtract, union, type Box, type Region } from './box.js';
import * as iv from './intervals.js';
import type { IntervalSet } from './intervals.js';

/**
 * What each match of a host program covers in header space, built once per program and family:
 * the symbolic counterpart of the simulator's prepared program. Every function here decides
 * exactly what `simulate` decides for one packet, for all packets at once.
 */
export class MatchSpace {
  private readonly sets = new Map<string, IntervalSet>();
  private readonly portSets = new Map<string, HostProgram['namedPortSets'][number]>();
  private readonly nets = new Map<readonly string[], IntervalSet>();
  private readonly rules = new Map<CompiledRule, Region>();

  constructor(
    readonly program: HostProgram,
    readonly family: Family,
  ) {
    for (const s of program.addressSets) if (!this.sets.has(s.id)) this.sets.set(s.id, s.family === family ? netsToIntervals(s.elements, family) : iv.EMPTY);
    for (const s of program.namedPortSets) if (!this.portSets.has(s.id)) this.portSets.set(s.id, s);
  }

  /** The packets a rule matches (any of its per-family matches). */
  rule(rule: CompiledRule): Region {
    let r = this.rules.get(rule);
    if (!r) {
      r = rule.matches.reduce<Region>((acc, m) => union(acc, this.familyMatch(m)), []);
      this.rules.set(rule, r);
    }
    return r;
  }

  failsafe(f: FailsafeRule): Region {
    const dims: Record<number, IntervalSet> = { [PROTO]: iv.point(BigInt(f.protocol === 'udp' ? PROTO_UDP : PROTO_TCP)), [f.portOf === 'destination' ? DPORT : SPORT]: iv.point(BigInt(f.port)) };
    if (f.net !== undefined) dims[f.netOf === 'source' ? SRC : DST] = netsToIntervals([f.net], this.family);
    return [boxWith(this.family, dims)];
  }

  addresses(nets: readonly string[]): IntervalSet {
    let s = this.nets.get(nets);
    if (!s) this.nets.set(nets, (s = netsToIntervals(nets, this.family)));
    return s;
  }

  private familyMatch(m: FamilyMatch): Region {
    if (m.family !== null && m.family !== this.family) return [];
    let proto = m.protocol !== undefined ? iv.point(BigInt(m.protocol)) : iv.range(0n, 255n);
    if (m.notProtocol !== undefined) proto = iv.subtract(proto, iv.point(BigInt(m.notProtocol)));
    let r: Region = proto.length > 0 ? [boxWith(this.family, { [PROTO]: proto })] : [];
    if (m.icmp) r = intersect(r, [this.icmpBox(m, m.icmp)]);
    // nftables semantics (render.ts): an ICMP packet of the rule's family that is not of this type (and code).
    if (m.notIcmp) r = subtract(intersect(r, [boxWith(this.family, { [PROTO]: this.icmpBox(m, m.notIcmp)[PROTO]! })]), [this.icmpBox(m, m.notIcmp)]);
    r = this.entity(r, m.src, SRC, SPORT);
    return this.entity(r, m.dst, DST, DPORT);
  }

  private icmpBox(m: FamilyMatch, icmp: IcmpMatch): Box {
    const proto = m.family === 6 || m.protocol === 58 ? 58n : 1n;
    const dims: Record<number, IntervalSet> = { [PROTO]: iv.point(proto), [ICMP_TYPE]: iv.point(BigInt(icmp.type)) };
    if (icmp.code !== undefined) dims[ICMP_CODE] = iv.point(BigInt(icmp.code));
    return boxWith(this.family, dims);
  }

  private entity(r: Region, e: EntityMatch, addr: number, port: number): Region {
    if (e.nets && e.nets.length > 0) r = restrict(r, addr, this.addresses(e.nets));
    if (e.notNets && e.notNets.length > 0) r = exclude(r, addr, this.addresses(e.notNets));
    if (e.set !== undefined) r = restrict(r, addr, this.sets.get(e.set) ?? iv.EMPTY);
    if (e.notSet !== undefined) r = exclude(r, addr, this.sets.get(e.notSet) ?? iv.EMPTY);
    if (e.ports) r = intersect(r, this.ports(e.ports, addr, port));
    if (e.notPorts) r = subtract(r, this.ports(e.notPorts, addr, port));
    return r;
  }

  /** Port ranges, or a named port: `address . protocol . port` of the endpoints offering it. */
  private ports(p: PortMatch, addr: number, port: number): Region {
    let r: Region = [];
    const ranges = iv.fromIntervals(p.ranges.map(([lo, hi]) => [BigInt(lo), BigInt(hi)] as const));
    if (ranges.length > 0) r = [boxWith(this.family, { [port]: ranges })];
    const named = p.namedSet !== undefined ? this.portSets.get(p.namedSet) : undefined;
    if (named) {
      const byService = new Map<string, { protocol: number; port: number; addresses: string[] }>();
      for (const e of named.elements) {
        const k = `${e.protocol}/${e.port}`;
        const entry = byService.get(k) ?? { protocol: e.protocol, port: e.port, addresses: [] };
        entry.addresses.push(e.address);
        byService.set(k, entry);
      }
      for (const s of byService.values()) {
        const addresses = named.family === this.family ? netsToIntervals(s.addresses, this.family) : iv.EMPTY;
        if (addresses.length === 0) continue;
        r = union(r, [boxWith(this.family, { [PROTO]: iv.point(BigInt(s.protocol)), [port]: iv.point(BigInt(s.port)), [addr]: addresses })]);
      }
    }
    return r;
  }
}

function restrict(r: Region, dim: number, set: IntervalSet): Box[] {
  const out: Box[] = [];
  for (const b of r) {
    const d = iv.intersect(b[dim]!, set);
    if (d.length > 0) out.push(b.map((s, i) => (i === dim ? d : s)));
  }
  return out;
}

function exclude(r: Region, dim: number, set: IntervalSet): Box[] {
  const out: Box[] = [];
  for (const b of r) {
    const d = iv.subtract(b[dim]!, set);
    if (d.length > 0) out.push(b.map((s, i) => (i === dim ? d : s)));
  }
  return out;
}

/** The addresses of CIDRs (or plain addresses) of one family; other families' entries are left out. */
export function netsToIntervals(nets: readonly string[], family: Family): IntervalSet {
  const bits = BigInt(addressBits(family));
  const list: [bigint, bigint][] = [];
  for (const text of nets) {
    const c = parseCidr(text);
    if (c.family !== family) continue;
    list.push([c.base, c.base | ((1n << (bits - BigInt(c.prefix))) - 1n)]);
  }
  return iv.fromIntervals(list);
}

const spaces = new WeakMap<HostProgram, Map<Family, MatchSpace>>();

/** The match space of a program, built once per program object and family (programs are immutable). */
export function matchSpace(program: HostProgram, family: Family): MatchSpace {
  let byFamily = spaces.get(program);
  if (!byFamily) spaces.set(program, (byFamily = new Map()));
  let s = byFamily.get(family);
  if (!s) byFamily.set(family, (s = new MatchSpace(program, family)));
  return s;
}
