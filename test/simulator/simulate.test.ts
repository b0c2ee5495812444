import { describe, expect, it } from 'vitest';
import { compileHost, type HostFacts } from '../../src/compiler/index.js';
import { formatVerdict, simulate, type Packet } from '../../src/simulator/index.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

const facts: HostFacts = { node: 'n1', interfaces: [{ name: 'eth0', addresses: ['198.18.0.2/24'] }, { name: 'eth1', addresses: [] }] };
const tcp = (dport: number, src = '198.18.0.1'): Packet => ({ iface: 'eth0', direction: 'ingress', proto: 'tcp', src, dst: '198.18.0.2', sport: 40000, dport });

describe('simulate', () => {
  const state = stateOf(
    hep('worker', { node: 'n1', interfaceName: 'eth0' }, { role: 'k8s-worker' }),
    gnp('k8s-worker', {
      selector: "role == 'k8s-worker'",
      order: 0,
      ingress: [
        { action: 'Allow', protocol: 'TCP', destination: { ports: [10250] } },
        { action: 'Pass', protocol: 'TCP', destination: { ports: [8080] } },
      ],
    }),
  );
  const program = compileHost(state, facts);

  it('explains an allow by its policy rule, a failsafe by its port, a drop by the end of the tier', () => {
    expect(formatVerdict(simulate(program, tcp(10250)))).toBe('allow (policy k8s-worker ingress rule 0 (Allow))');
    expect(formatVerdict(simulate(program, tcp(22)))).toBe('allow (failsafe tcp/22)');
    expect(formatVerdict(simulate(program, tcp(9999)))).toBe('deny (policy k8s-worker, end of tier default)');
  });

  it('a Pass goes past the end of the tier to the profiles, and with none the default drop', () => {
    expect(formatVerdict(simulate(program, tcp(8080)))).toBe('deny (no policy or profile allowed: default drop)');
  });

  it('interfaces without a host endpoint are not policed', () => {
    expect(simulate(program, { ...tcp(9999), iface: 'eth1' }).verdict).toBe('no-policy');
  });

  it('a HEP with no policy or profile denies everything but failsafes', () => {
    const p = compileHost(stateOf(hep('bare', { node: 'n1', interfaceName: 'eth0' })), facts);
    expect(formatVerdict(simulate(p, tcp(80)))).toBe('deny (HostEndpoint bare has no ingress policy or profile: default drop)');
    expect(simulate(p, { iface: 'eth0', direction: 'egress', proto: 'udp', src: '198.18.0.2', dst: '198.18.0.1', sport: 5000, dport: 53 }).verdict).toBe('allow');
  });
});
