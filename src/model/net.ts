import { isIPv4, isIPv6 } from 'node:net';

/** An address as bytes (4 or 16), so masks can be checked without string tricks. */
export interface ParsedIp {
  family: 4 | 6;
  bytes: number[];
}

export interface ParsedCidr extends ParsedIp {
  prefix: number;
}

function v4Bytes(text: string): number[] {
  return text.split('.').map(Number);
}

function v6Bytes(text: string): number[] {
  let hex = text;
  const lastColon = text.lastIndexOf(':');
  // An embedded IPv4 tail (::ffff:1.2.3.4) is two more 16-bit groups.
  if (text.slice(lastColon + 1).includes('.')) {
    const [a, b, c, d] = v4Bytes(text.slice(lastColon + 1)) as [number, number, number, number];
    hex = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const gap = hex.indexOf('::');
  const all =
    gap < 0
      ? groups(hex)
      : (() => {
          const left = groups(hex.slice(0, gap));
          const right = groups(hex.slice(gap + 2));
          return [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
        })();
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** A plain IPv4 or IPv6 address, no prefix. */
export function parseIp(text: string): ParsedIp | undefined {
  if (isIPv4(text)) return { family: 4, bytes: v4Bytes(text) };
  if (isIPv6(text) && !text.includes('%')) return { family: 6, bytes: v6Bytes(text) };
  return undefined;
}

/** `addr/prefix`; undefined if malformed. Host bits are reported separately by `hostBitsSet`. */
export function parseCidr(text: string): ParsedCidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (ip.family === 4 ? 32 : 128)) return undefined;
  return { ...ip, prefix };
}

export function maskedBytes(c: ParsedCidr): number[] {
  return c.bytes.map((b, i) => {
    const bits = Math.max(0, Math.min(8, c.prefix - i * 8));
    return b & ((0xff << (8 - bits)) & 0xff);
  });
}

export function hostBitsSet(c: ParsedCidr): boolean {
  return maskedBytes(c).some((b, i) => b !== c.bytes[i]);
}

export function formatIp(family: 4 | 6, bytes: readonly number[]): string {
  if (family === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // RFC 5952: compress the longest run (length ≥ 2) of zero groups.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The network address of a CIDR, e.g. `10.1.2.3/16` → `10.1.0.0/16`. */
export function maskedCidr(c: ParsedCidr): string {
  return `${formatIp(c.family, maskedBytes(c))}/${c.prefix}`;
}
