import type { Protocol } from '../model/schemas.js';

const NUMBERS: Record<string, number> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 };
const NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;
export const PROTO_ICMPV6 = 58;
export const PROTO_SCTP = 132;

export function protocolNumber(p: Protocol | string): number {
  if (typeof p === 'number') return p;
  const n = NUMBERS[p] ?? (/^[0-9]+$/.test(p) ? Number(p) : NaN);
  if (!(n >= 1 && n <= 255)) throw new Error(`unknown protocol '${p}'`);
  return n;
}

/** Lower-case name for messages (`tcp/22`), the number otherwise. */
export const protocolLabel = (n: number): string => NAMES[n] ?? String(n);

/** Accepts names in any case and numbers, as packets are described on the command line. */
export function parsePacketProtocol(text: string): number {
  const lower = text.toLowerCase();
  const byName = Object.entries(NAMES).find(([, name]) => name === lower);
  if (byName) return Number(byName[0]);
  if (/^[0-9]+$/.test(text) && Number(text) >= 0 && Number(text) <= 255) return Number(text);
  throw new Error(`unknown protocol '${text}' (use tcp, udp, icmp, icmpv6, sctp or a number)`);
}
