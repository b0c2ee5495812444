import { describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { smallestChange } from '../../src/headerspace/smallest-change.js';
import { simulate, type Packet } from '../../src/simulator/index.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

const program = compileHost(
  stateOf(
    hep('web-eth0', { node: 'web', interfaceName: 'eth0', expectedIPs: ['198.18.0.10'] }, { role: 'web' }),
    gnp('web', {
      selector: "role == 'web'",
      ingress: [
        { action: 'Allow', protocol: 'TCP', destination: { ports: [80, 443] } },
        { action: 'Deny', protocol: 'TCP', destination: { ports: [22] } },
        { action: 'Allow', protocol: 'TCP', source: { nets: ['10.0.0.0/8'] }, destination: { ports: [22] } },
      ],
    }),
    { kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [] } },
  ),
  { node: 'web', interfaces: [{ name: 'eth0', addresses: ['198.18.0.10/24'] }] },
);
const tcp = (src: string, dport: number): Packet => ({ iface: 'eth0', direction: 'ingress', proto: 'tcp', src, dst: '198.18.0.10', sport: 40000, dport });

describe('explain: the smallest change that lets a denied flow through', () => {
  it('a field of the packet: the Allow rule that needs the fewest fields to differ', () => {
    const c = smallestChange(program, tcp('203.0.113.5', 8080))!;
    expect(c.text).toBe('policy web ingress rule 0 (Allow) would allow it if the destination port were one of 80, 443 (not 8080); or widen that rule to include it');
    expect(c.differ).toEqual([{ field: 'destination port', now: '8080', would: 'one of 80, 443' }]);
    expect(c.decidedBy.text).toBe('policy web, end of tier default');
    // The changed packet really is allowed.
    expect(simulate(program, tcp('203.0.113.5', 80)).verdict).toBe('allow');
  });

  it('an Allow that already matches but comes too late: the rule in the way is named', () => {
    const c = smallestChange(program, tcp('10.1.1.1', 22))!;
    expect(c.differ).toEqual([]);
    expect(c.text).toBe('policy web ingress rule 2 (Allow) matches this packet, but policy web ingress rule 1 (Deny) decides first: move the Allow before it, or narrow what is in the way');
  });

  it('not for an allowed packet; an Allow that the Deny would still catch is not offered', () => {
    expect(smallestChange(program, tcp('203.0.113.5', 80))).toBeNull();
    // tcp/22 from outside 10/8: moving the source into 10/8 still meets the Deny first, so rule 2 is no answer.
    const c = smallestChange(program, tcp('203.0.113.5', 22))!;
    expect(c.rule).toBe('policy web ingress rule 0 (Allow)');
    expect(c.differ.map((d) => d.field)).toEqual(['destination port']);
  });
});
