import type { Family } from './ir.js';

/** An address or network as a bigint range, so v4 and v6 share one code path. */
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

const bitsOf = (family: Family): number => (family === 4 ? 32 : 128);

function parseV4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseV6(text: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === '') return [];
    const out: number[] = [];
    const items = s.split(':');
    for (const [i, item] of items.entries()) {
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseV4(item);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) out.push(parseInt(item, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const tail = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const g of [...head, ...Array<number>(missing).fill(0), ...tail]) value = (value << 16n) | BigInt(g);
  return value;
}

/** Parses an address or CIDR; host bits are masked off (GlobalNetworkSet semantics). */
export function parseCidr(text: string): Cidr {
  const [addr = '', len, extra] = text.trim().split('/');
  if (extra !== undefined) throw new AddressError(text);
  const v4 = parseV4(addr);
  const family: Family = v4 !== null ? 4 : 6;
  const base = v4 ?? parseV6(addr);
  if (base === null) throw new AddressError(text);
  const bits = bitsOf(family);
  const prefix = len === undefined ? bits : /^[0-9]{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= bits)) throw new AddressError(text);
  return { family, base: base & maskOf(family, prefix), prefix };
}

export function tryParseCidr(text: string): Cidr | null {
  try {
    return parseCidr(text);
  } catch {
    return null;
  }
}

function maskOf(family: Family, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

export function containsAddress(net: Cidr, address: Cidr): boolean {
  return net.family === address.family && (address.base & maskOf(net.family, net.prefix)) === net.base && address.prefix >= net.prefix;
}

function formatAddress(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (≥2) of zero groups.
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
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
