import { formatCidr } from '../net/cidr.js';
import type { Family } from '../compiler/ir.js';
import { protocolLabel } from '../compiler/protocols.js';
import { addressBits, DPORT, DST, ICMP_CODE, ICMP_TYPE, NONE, PROTO, SPORT, SRC, type Box } from './box.js';
import type { Context } from './evaluate.js';
import * as iv from './intervals.js';
import type { IntervalSet } from './intervals.js';

/**
 * A box in the words of a policy: protocol, networks (a list, or everything except a list,
 * whichever is shorter), port and ICMP ranges. Exact: the fields describe the box, not a sample.
 */
export interface BoxFields {
  direction: 'ingress' | 'egress' | 'forward';
  interface: string;
  forwardTo?: string;
  family: Family;
  /** `tcp`, `udp`, a number, `any`, or `any except …`. */
  protocol: string;
  /** The protocol numbers, as ranges. */
  protocols: [number, number][];
  src: string[];
  notSrc?: string[];
  dst: string[];
  notDst?: string[];
  /** Only for port protocols (TCP, UDP, SCTP). */
  srcPorts?: [number, number][];
  dstPorts?: [number, number][];
  icmpTypes?: [number, number][];
  icmpCodes?: [number, number][];
}

const num = (s: IntervalSet): [number, number][] => iv.pairs(s).map(([lo, hi]) => [Number(lo), Number(hi)]);

/** The fewest CIDRs covering exactly an interval. */
function cidrsOf(family: Family, lo: bigint, hi: bigint): string[] {
  const bits = addressBits(family);
  const out: string[] = [];
  while (lo <= hi) {
    let size = 0;
    while (size < bits && (lo & ((1n << BigInt(size + 1)) - 1n)) === 0n && lo + (1n << BigInt(size + 1)) - 1n <= hi) size++;
    out.push(formatCidr({ family, base: lo, prefix: bits - size }));
    lo += 1n << BigInt(size);
  }
  return out;
}

export function addressesOf(family: Family, s: IntervalSet): { nets: string[]; notNets?: string[] } {
  const full = iv.range(0n, (1n << BigInt(addressBits(family))) - 1n);
  const direct = iv.pairs(s).flatMap(([lo, hi]) => cidrsOf(family, lo, hi));
  const holes = iv.pairs(iv.subtract(full, s)).flatMap(([lo, hi]) => cidrsOf(family, lo, hi));
  if (holes.length + 1 < direct.length) return { nets: [family === 4 ? '0.0.0.0/0' : '::/0'], notNets: holes };
  return { nets: direct };
}

function protocolText(s: IntervalSet): string {
  const values = iv.size(s);
  if (values <= 4n) return iv.pairs(s).flatMap(([lo, hi]) => Array.from({ length: Number(hi - lo) + 1 }, (_, i) => protocolLabel(Number(lo) + i))).join(', ');
  const missing = iv.subtract(iv.range(0n, 255n), s);
  if (missing.length === 0) return 'any';
  if (iv.size(missing) <= 6n) return `any except ${protocolText(missing)}`;
  return num(s).map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ');
}

/** Ports protocols are split out one box per protocol, so each reads `tcp/22`. */
export function splitByProtocol(box: Box): Box[] {
  if (iv.size(box[PROTO]!) > 4n) return [box];
  return iv.pairs(box[PROTO]!).flatMap(([lo, hi]) => Array.from({ length: Number(hi - lo) + 1 }, (_, i) => box.map((d, k) => (k === PROTO ? iv.point(lo + BigInt(i)) : d))));
}

export function describeBox(context: Context, family: Family, box: Box): BoxFields {
  const src = addressesOf(family, box[SRC]!);
  const dst = addressesOf(family, box[DST]!);
  const out: BoxFields = {
    direction: context.forwardTo !== undefined ? 'forward' : context.direction,
    interface: context.iface,
    ...(context.forwardTo !== undefined ? { forwardTo: context.forwardTo } : {}),
    family,
    protocol: protocolText(box[PROTO]!),
    protocols: num(box[PROTO]!),
    src: src.nets,
    ...(src.notNets ? { notSrc: src.notNets } : {}),
    dst: dst.nets,
    ...(dst.notNets ? { notDst: dst.notNets } : {}),
  };
  const withoutNone = (s: IntervalSet) => iv.subtract(s, iv.point(NONE));
  if (withoutNone(box[SPORT]!).length > 0) out.srcPorts = num(withoutNone(box[SPORT]!));
  if (withoutNone(box[DPORT]!).length > 0) out.dstPorts = num(withoutNone(box[DPORT]!));
  if (withoutNone(box[ICMP_TYPE]!).length > 0) out.icmpTypes = num(withoutNone(box[ICMP_TYPE]!));
  if (withoutNone(box[ICMP_CODE]!).length > 0) out.icmpCodes = num(withoutNone(box[ICMP_CODE]!));
  return out;
}

const ranges = (list: [number, number][]) => list.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(',');
const isAll = (list: [number, number][] | undefined, hi: number) => list === undefined || (list.length === 1 && list[0]![0] === 0 && list[0]![1] === hi);
const MAX_NETS = 4;
const nets = (list: string[]) => (list.length > MAX_NETS ? `${list.slice(0, MAX_NETS).join(', ')}, … (${list.length} networks)` : list.join(', '));

/** `eth0 ingress tcp/22 from 0.0.0.0/0 except 198.18.0.0/24` (destination and source ports only when restricted). */
export function boxText(f: BoxFields): string {
  const where = f.direction === 'forward' ? `${f.interface} → ${f.forwardTo} forward` : `${f.interface} ${f.direction}`;
  let what = f.protocol;
  if (f.dstPorts && !isAll(f.dstPorts, 65535)) what += `/${ranges(f.dstPorts)}`;
  if (f.srcPorts && !isAll(f.srcPorts, 65535)) what += ` from port ${ranges(f.srcPorts)}`;
  if (f.icmpTypes && !isAll(f.icmpTypes, 255)) what += ` type ${ranges(f.icmpTypes)}`;
  if (f.icmpCodes && !isAll(f.icmpCodes, 255)) what += ` code ${ranges(f.icmpCodes)}`;
  const side = (list: string[], not: string[] | undefined) => `${nets(list)}${not ? ` except ${nets(not)}` : ''}`;
  const anywhere = (list: string[], not: string[] | undefined) => !not && list.length === 1 && list[0]!.endsWith('/0');
  const to = anywhere(f.dst, f.notDst) ? '' : ` to ${side(f.dst, f.notDst)}`;
  return `${where} ${what} from ${side(f.src, f.notSrc)}${to}`;
}
