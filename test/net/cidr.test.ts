import { describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { parsePolicyText } from '../../src/model/load.js';
import { formatCidr, formatElement, normaliseNets, parseCidr, parseIp, parsePrefixed, tryParseCidr } from '../../src/net/cidr.js';
import { stateOf } from '../support/policy-fixtures.js';

/**
 * One address module for the model and the compiler. Each text is read as Go's net.ParseIP /
 * ParseCIDR read it (Calico's cnet wraps them): four decimal parts without leading zeros (Go
 * 1.17+), no zones, an IPv4 tail in IPv6 allowed and kept in place.
 */
const ADDRESSES: [string, string | null][] = [
  ['198.18.0.1', '198.18.0.1'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['010.1.1.1', null], // leading zero: Go rejects it (octal ambiguity)
  ['1.2.3', null],
  ['0x0a.0.0.1', null],
  ['256.1.1.1', null],
  [' 1.2.3.4', null],
  ['fd00::1', 'fd00::1'],
  ['FD00:0:0:0:0:0:0:1', 'fd00::1'],
  ['::', '::'],
  ['::1.2.3.4', '::102:304'], // ipaddr.js alone would make this ::ffff:1.2.3.4
  ['::ffff:1.2.3.4', '::ffff:102:304'],
  ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ['1:2:3:4:5:6:7::8', null], // `::` must stand for at least one group
  ['1::2::3', null],
  ['fe80::1%eth0', null],
  ['2001:db8::0:1', '2001:db8::1'],
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // RFC 5952: the longest run of zeros
];

describe('addresses (src/net/cidr.ts)', () => {
  it.each(ADDRESSES)('%j → %j', (text, expected) => {
    const ip = parseIp(text);
    expect(ip ? formatElement(ip) : null).toBe(expected);
  });

  it('prefixed CIDRs: explicit prefix, host bits reported, masked network', () => {
    expect(parsePrefixed('10.1.2.3/16')).toEqual({ cidr: parseCidr('10.1.0.0/16'), hostBits: true });
    expect(parsePrefixed('10.1.0.0/16')?.hostBits).toBe(false);
    expect(parsePrefixed('10.0.0.1')).toBeNull();
    expect(parsePrefixed('10.0.0.0/33')).toBeNull();
    expect(parsePrefixed('10.0.0.0/')).toBeNull();
    expect(parsePrefixed('10.0.0.0/8/8')).toBeNull();
    expect(parsePrefixed('fd00::1/64')).toEqual({ cidr: parseCidr('fd00::/64'), hostBits: true });
    expect(parsePrefixed('::/0')?.cidr).toEqual({ family: 6, base: 0n, prefix: 0 });
    expect(formatCidr(tryParseCidr('198.18.0.7')!)).toBe('198.18.0.7/32');
  });

  it('normalises nets: sorted, duplicates and nested networks removed, v4 before v6', () => {
    const nets = ['fd00::/8', '10.0.0.0/8', '10.1.0.0/16', '198.18.0.1', 'fd00:1::/32', '10.0.0.0/8'].map(parseCidr);
    expect(normaliseNets(nets).map(formatElement)).toEqual(['10.0.0.0/8', '198.18.0.1', 'fd00::/8']);
  });

  // The model and the compiler used to parse with two different modules (node:net's isIP and a
  // hand-written parser): '010.1.1.1' passed the compiler and failed the model. One module now:
  // for every text, what validates is exactly what compiles.
  it.each(ADDRESSES)('model and compiler agree on %j', (text) => {
    const doc = (ip: string) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: { name: h, labels: { a: b } }
spec: { node: n, expectedIPs: [${JSON.stringify(ip)}] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: { name: p }
spec:
  selector: all()
  ingress: [{ action: Allow, source: { selector: "a == 'b'" } }]
`;
    const valid = parsePolicyText(doc(text)).errors.length === 0;
    expect(valid).toBe(parseIp(text) !== null);
    if (!valid) return;
    const program = compileHost(stateOf({ kind: 'HostEndpoint', metadata: { name: 'h', labels: { a: 'b' } }, spec: { node: 'n', interfaceName: 'eth0', expectedIPs: [text] } }, {
      kind: 'GlobalNetworkPolicy', metadata: { name: 'p' }, spec: { selector: 'all()', ingress: [{ action: 'Allow', source: { selector: "a == 'b'" } }] },
    }), { node: 'n', interfaces: [{ name: 'eth0', addresses: [] }] });
    const family = parseIp(text)!.family;
    expect(program.addressSets.find((s) => s.family === family)?.elements).toEqual([formatElement(parseIp(text)!)]);
  });
});
