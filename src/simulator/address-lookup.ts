import { normaliseNets, type Cidr } from '../net/cidr.js';
import type { Family } from '../compiler/ir.js';

interface Range {
  first: bigint;
  last: bigint;
}

const hostBits = (c: Cidr): bigint => (1n << BigInt((c.family === 4 ? 32 : 128) - c.prefix)) - 1n;

/**
 * A union of networks that answers "is this address (or network) inside one of them" by binary
 * search: address sets can hold thousands of members, and a packet meets them on every rule.
 */
export class AddressLookup {
  private readonly ranges: Record<Family, Range[]> = { 4: [], 6: [] };

  constructor(nets: readonly Cidr[]) {
    // Normalised networks are sorted and disjoint (CIDRs either nest or do not overlap), so the
    // only candidate for an address is the last network starting at or before it.
    for (const n of normaliseNets(nets)) this.ranges[n.family].push({ first: n.base, last: n.base | hostBits(n) });
  }

  has(address: Cidr): boolean {
    const ranges = this.ranges[address.family];
    let lo = 0;
    let hi = ranges.length - 1;
    let candidate: Range | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = ranges[mid]!;
      if (r.first <= address.base) {
        candidate = r;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return candidate !== undefined && (address.base | hostBits(address)) <= candidate.last;
  }
}
