import ipaddr from 'ipaddr.js';

/**
 * The one address/CIDR module: the model validates with it and the compiler, simulator and plan
 * compute with it, so an address the validator accepted is never read differently later.
 *
 * Text is read the way Go's `net.ParseIP`/`ParseCIDR` (Calico's `cnet`) read it: IPv4 only as four
 * decimal parts without leading zeros, IPv6 without a zone, an IPv4 tail allowed. ipaddr.js does the
 * syntax; an IPv4 tail is turned into two hex groups first, because ipaddr.js reads `::a.b.c.d` as
 * `::ffff:a.b.c.d` where Go keeps it `::a.b:c.d`. Values are bigints so v4 and v6 share one path.
 */

export type Family = 4 | 6;

/** An address or network: `base` is the network address (host bits clear). */
export interface Cidr {
  family: Family;
  base: bigint;
  prefix: number;
}

export class AddressError extends Error {
  readonly code = 'ADDRESS_INVALID';
  constructor(readonly text: string) {
    super(`'${text}' is not an IPv4/IPv6 address or CIDR`);
    this.name = 'AddressError';
  }
}

export const bitsOf = (family: Family): number => (family === 4 ? 32 : 128);

function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

const DOTTED_TAIL = /^(.*:)([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)$/;

/** A plain address (no prefix, no zone) as family and value; null when it is not one. */
function addressValue(text: string): { family: Family; value: bigint } | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return { family: 4, value: bytesToBigint(ipaddr.IPv4.parse(text).toByteArray()) };
  if (text.includes('%') || !/^[0-9a-fA-F:.]+$/.test(text)) return null;
  let hex = text;
  const tail = DOTTED_TAIL.exec(text);
  if (tail) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(tail[2]!)) return null;
    const [a, b, c, d] = ipaddr.IPv4.parse(tail[2]!).octets as [number, number, number, number];
    hex = `${tail[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  if (!ipaddr.IPv6.isValid(hex)) return null;
  return { family: 6, value: bytesToBigint(ipaddr.IPv6.parse(hex).toByteArray()) };
}

function bytesToBigint(bytes: readonly number[]): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

/** A plain IPv4 or IPv6 address (a HostEndpoint's `expectedIPs` entry), as a host route; null otherwise. */
export function parseIp(text: string): Cidr | null {
  const a = addressValue(text);
  return a ? { family: a.family, base: a.value, prefix: bitsOf(a.family) } : null;
}

/**
 * `addr/prefix` with the prefix required (a rule's `nets`): the masked network, and whether the
 * text had host bits set (Calico rejects `1.2.3.4/24` there). Null when malformed.
 */
export function parsePrefixed(text: string): { cidr: Cidr; hostBits: boolean } | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const a = addressValue(text.slice(0, slash));
  const len = text.slice(slash + 1);
  if (!a || !/^[0-9]{1,3}$/.test(len) || Number(len) > bitsOf(a.family)) return null;
  const prefix = Number(len);
  const base = a.value & maskOf(a.family, prefix);
  return { cidr: { family: a.family, base, prefix }, hostBits: base !== a.value };
}

/** An address or a CIDR, host bits masked off (GlobalNetworkSet and failsafe `net` semantics). */
export function tryParseCidr(text: string): Cidr | null {
  return text.includes('/') ? (parsePrefixed(text)?.cidr ?? null) : parseIp(text);
}

/** Like `tryParseCidr`, throwing `AddressError`. */
export function parseCidr(text: string): Cidr {
  const c = tryParseCidr(text);
  if (!c) throw new AddressError(text);
  return c;
}

export function containsAddress(net: Cidr, address: Cidr): boolean {
  return net.family === address.family && address.prefix >= net.prefix && (address.base & maskOf(net.family, net.prefix)) === net.base;
}

/** The address in canonical text: dotted quad, or RFC 5952 for IPv6 (what nft prints back). */
export function formatAddress(family: Family, value: bigint): string {
  const n = bitsOf(family) / 8;
  const bytes = Array.from({ length: n }, (_, i) => Number((value >> BigInt(8 * (n - 1 - i))) & 0xffn));
  const addr = ipaddr.fromByteArray(bytes);
  return addr.kind() === 'ipv6' ? (addr as ipaddr.IPv6).toRFC5952String() : addr.toString();
}

/** `a.b.c.d/n` form, always with a prefix length. */
export function formatCidr(c: Cidr): string {
  return `${formatAddress(c.family, c.base)}/${c.prefix}`;
}

/** Bare address for host routes, CIDR otherwise: the form nft prints back for interval sets. */
export function formatElement(c: Cidr): string {
  return c.prefix === bitsOf(c.family) ? formatAddress(c.family, c.base) : formatCidr(c);
}

/**
 * Sorted, de-duplicated, nested networks removed: nft rejects overlapping elements in an interval
 * set, and a canonical list keeps the rendering deterministic.
 */
export function normaliseNets(cidrs: readonly Cidr[]): Cidr[] {
  const sorted = [...cidrs].sort((a, b) => a.family - b.family || (a.base < b.base ? -1 : a.base > b.base ? 1 : a.prefix - b.prefix));
  const out: Cidr[] = [];
  for (const c of sorted) {
    const last = out[out.length - 1];
    if (last && containsAddress(last, c)) continue;
    out.push(c);
  }
  return out;
}
