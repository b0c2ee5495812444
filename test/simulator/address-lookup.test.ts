import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsAddress, formatCidr, parseCidr, type Cidr } from '../../src/net/cidr.js';
import { AddressLookup } from '../../src/simulator/address-lookup.js';

/** Few, short prefixes over a narrow space, so nets nest, touch and contain the probes often. */
const v4 = fc.record({ base: fc.integer({ min: 0, max: 255 }), prefix: fc.integer({ min: 24, max: 32 }) }).map(({ base, prefix }) => parseCidr(`10.0.0.${base}/${prefix}`));
const v6 = fc.record({ base: fc.integer({ min: 0, max: 255 }), prefix: fc.integer({ min: 120, max: 128 }) }).map(({ base, prefix }) => parseCidr(`2001:db8::${base.toString(16)}/${prefix}`));
const cidr = fc.oneof(v4, v6, fc.constant(parseCidr('0.0.0.0/0')), fc.constant(parseCidr('::/0')));

describe('AddressLookup', () => {
  it('answers as a linear containsAddress scan does, for addresses and networks of both families', () => {
    fc.assert(
      fc.property(fc.array(cidr, { maxLength: 12 }), fc.array(cidr, { minLength: 1, maxLength: 12 }), (nets: Cidr[], probes: Cidr[]) => {
        const lookup = new AddressLookup(nets);
        for (const p of probes) expect(lookup.has(p), `${formatCidr(p)} in [${nets.map(formatCidr).join(', ')}]`).toBe(nets.some((n) => containsAddress(n, p)));
      }),
      { numRuns: 2000 },
    );
  });

  it('an empty set holds nothing', () => {
    expect(new AddressLookup([]).has(parseCidr('10.0.0.1'))).toBe(false);
  });
});
