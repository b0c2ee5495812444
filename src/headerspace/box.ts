import type { Family } from '../compiler/ir.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP } from '../compiler/protocols.js';
import * as iv from './intervals.js';
import type { IntervalSet } from './intervals.js';

/**
 * The header space of one interface, direction and address family: a packet is a point
 * (protocol, source, destination, source port, destination port, ICMP type, ICMP code). A box is
 * a product of one interval set per dimension; a region is a union of disjoint boxes.
 *
 * A packet without ports (anything but TCP, UDP, SCTP) has port -1, one without ICMP fields has
 * type and code -1, exactly as the simulator treats an absent field: no port or ICMP match
 * can hold for it.
 */
export const DIMS = ['protocol', 'src', 'dst', 'srcPort', 'dstPort', 'icmpType', 'icmpCode'] as const;
export type Dim = (typeof DIMS)[number];
export const PROTO = 0;
export const SRC = 1;
export const DST = 2;
export const SPORT = 3;
export const DPORT = 4;
export const ICMP_TYPE = 5;
export const ICMP_CODE = 6;

export type Box = readonly IntervalSet[];
export type Region = readonly Box[];

export const NONE = -1n;
export const PORT_PROTOCOLS = [PROTO_TCP, PROTO_UDP, PROTO_SCTP] as const;
export const icmpProtocol = (family: Family): number => (family === 4 ? PROTO_ICMP : PROTO_ICMPV6);
export const addressBits = (family: Family): number => (family === 4 ? 32 : 128);

const FULL_PROTO = iv.range(0n, 255n);
const FULL_PORT = iv.range(NONE, 65535n);
const FULL_ICMP = iv.range(NONE, 255n);
const fullAddress = (family: Family) => iv.range(0n, (1n << BigInt(addressBits(family))) - 1n);

/** Every dimension unconstrained (including the impossible combinations the universe excludes). */
export function anyBox(family: Family): Box {
  return [FULL_PROTO, fullAddress(family), fullAddress(family), FULL_PORT, FULL_PORT, FULL_ICMP, FULL_ICMP];
}

/** `anyBox` with some dimensions replaced. */
export function boxWith(family: Family, dims: Partial<Record<number, IntervalSet>>): Box {
  return anyBox(family).map((d, i) => dims[i] ?? d);
}

const PORTS = iv.range(0n, 65535n);
const ICMP_VALUES = iv.range(0n, 255n);

/**
 * Every packet that can exist: port protocols with ports, ICMP of the family with type and code,
 * every other protocol with neither.
 */
export function universe(family: Family): Region {
  const portProtos = iv.fromIntervals(PORT_PROTOCOLS.map((p) => [BigInt(p), BigInt(p)] as const));
  const icmp = iv.point(BigInt(icmpProtocol(family)));
  const addr = fullAddress(family);
  const none = iv.point(NONE);
  return [
    [portProtos, addr, addr, PORTS, PORTS, none, none],
    [icmp, addr, addr, none, none, ICMP_VALUES, ICMP_VALUES],
    [iv.subtract(iv.subtract(FULL_PROTO, portProtos), icmp), addr, addr, none, none, none, none],
  ];
}

export function intersectBox(a: Box, b: Box): Box | null {
  const out: IntervalSet[] = [];
  for (let i = 0; i < a.length; i++) {
    const d = iv.intersect(a[i]!, b[i]!);
    if (d.length === 0) return null;
    out.push(d);
  }
  return out;
}

/** `a \ b` as at most one disjoint box per dimension. */
export function subtractBox(a: Box, b: Box): Box[] {
  const common: IntervalSet[] = [];
  for (let i = 0; i < a.length; i++) {
    const d = iv.intersect(a[i]!, b[i]!);
    if (d.length === 0) return [a];
    common.push(d);
  }
  const out: Box[] = [];
  for (let i = 0; i < a.length; i++) {
    const rest = iv.subtract(a[i]!, b[i]!);
    if (rest.length > 0) out.push([...common.slice(0, i), rest, ...a.slice(i + 1)]);
  }
  return out;
}

export function intersect(r: Region, s: Region): Box[] {
  const out: Box[] = [];
  for (const a of r) {
    for (const b of s) {
      const c = intersectBox(a, b);
      if (c) out.push(c);
    }
  }
  return out;
}

export function subtract(r: Region, s: Region): Box[] {
  let cur: Box[] = [...r];
  for (const b of s) {
    if (cur.length === 0) break;
    cur = cur.flatMap((a) => subtractBox(a, b));
  }
  return cur;
}

/** `r ∩ s` and `r \ s` in one pass. */
export function split(r: Region, s: Region): { inside: Box[]; outside: Box[] } {
  return { inside: intersect(r, s), outside: subtract(r, s) };
}

/** Disjoint union (`s` first made disjoint from `r`). */
export function union(r: Region, s: Region): Box[] {
  return [...r, ...subtract(s, r)];
}

export const isEmptyRegion = (r: Region): boolean => r.length === 0;

export function regionHas(r: Region, point: readonly bigint[]): boolean {
  return r.some((b) => b.every((d, i) => iv.has(d, point[i]!)));
}

/**
 * Fewer boxes for the same region: boxes equal in every dimension but one are merged into one
 * box (the union in that dimension), until nothing merges. Disjointness is kept.
 */
export function coalesce(r: Region): Box[] {
  let boxes = [...r];
  for (let changed = true; changed && boxes.length > 1; ) {
    changed = false;
    for (let d = 0; d < DIMS.length; d++) {
      const groups = new Map<string, Box[]>();
      for (const b of boxes) {
        const k = b.map((s, i) => (i === d ? '' : iv.key(s))).join('|');
        const g = groups.get(k);
        if (g) g.push(b);
        else groups.set(k, [b]);
      }
      if (groups.size === boxes.length) continue;
      changed = true;
      boxes = [...groups.values()].map((g) => (g.length === 1 ? g[0]! : g[0]!.map((s, i) => (i === d ? g.slice(1).reduce((acc, b) => iv.union(acc, b[i]!), s) : s))));
    }
  }
  return boxes;
}

export function boxesEqual(a: Box, b: Box): boolean {
  return a.every((d, i) => iv.equals(d, b[i]!));
}
