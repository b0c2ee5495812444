import { formatElement, parseCidr } from '../net/cidr.js';
import type { Family } from '../compiler/ir.js';
import { parsePacketProtocol } from '../compiler/protocols.js';
import { PacketError, type Packet } from '../simulator/index.js';
import { addressBits, DPORT, DST, ICMP_CODE, ICMP_TYPE, icmpProtocol, NONE, PORT_PROTOCOLS, PROTO, SPORT, SRC, type Box } from './box.js';
import * as iv from './intervals.js';
import type { Context } from './evaluate.js';

/** A packet as a point of its context's header space (absent fields as -1, like the universe). */
export function packetPoint(p: Packet): { family: Family; point: bigint[] } {
  const src = parseCidr(p.src);
  const dst = parseCidr(p.dst);
  if (src.family !== dst.family) throw new PacketError(`source ${p.src} and destination ${p.dst} are of different address families`);
  const proto = typeof p.proto === 'number' ? p.proto : parsePacketProtocol(p.proto);
  const ports = (PORT_PROTOCOLS as readonly number[]).includes(proto);
  const icmp = proto === icmpProtocol(src.family);
  const v = (x: number | undefined, keep: boolean) => (keep && x !== undefined ? BigInt(x) : NONE);
  return { family: src.family, point: [BigInt(proto), src.base, dst.base, v(p.sport, ports), v(p.dport, ports), v(p.icmpType, icmp), v(p.icmpCode, icmp)] };
}

/** Whether a packet is in a box (given its context and family match). */
export function boxHas(box: Box, point: readonly bigint[]): boolean {
  return box.every((d, i) => iv.has(d, point[i]!));
}

const formatAddress = (family: Family, value: bigint): string => formatElement({ family, base: value, prefix: addressBits(family) });

/**
 * One concrete packet of a box, for counterexamples: in each dimension the first member, but for
 * an address one of `prefer` (the host's own, say) when the box holds it, else a host address
 * rather than a network address when the interval allows it.
 */
export function samplePacket(context: Context, family: Family, box: Box, prefer: { src?: readonly string[]; dst?: readonly string[] } = {}): Packet {
  const first = (d: number) => box[d]![0]!;
  const address = (d: number, preferred: readonly string[] = []) => {
    for (const text of preferred) {
      const c = parseCidr(text);
      if (c.family === family && iv.has(box[d]!, c.base)) return formatAddress(family, c.base);
    }
    const lo = box[d]![0]!;
    const hi = box[d]![1]!;
    return formatAddress(family, hi > lo ? lo + 1n : lo);
  };
  const proto = Number(first(PROTO));
  const packet: Packet = { iface: context.iface, direction: context.direction, proto, src: address(SRC, prefer.src), dst: address(DST, prefer.dst) };
  if (context.forwardTo !== undefined) packet.forwardTo = context.forwardTo;
  const sport = first(SPORT);
  const dport = first(DPORT);
  if (sport !== NONE) packet.sport = Number(iv.has(box[SPORT]!, 40000n) ? 40000n : sport);
  if (dport !== NONE) packet.dport = Number(dport);
  if (first(ICMP_TYPE) !== NONE) packet.icmpType = Number(first(ICMP_TYPE));
  if (first(ICMP_CODE) !== NONE) packet.icmpCode = Number(first(ICMP_CODE));
  return packet;
}
