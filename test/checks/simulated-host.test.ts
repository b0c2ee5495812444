import { describe, expect, it } from 'vitest';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { compileHost, type HostFacts } from '../../src/compiler/index.js';
import { checkTraffic, serviceRefusal } from '../../src/hosts/simulated-check.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

const check = (spec: Record<string, unknown>) => CheckSpec.parse({ name: String(spec['kind']), ...spec });

describe('the packet a check sends, for the simulator', () => {
  it('tcp, ssh and http are TCP to their port; dns is UDP; icmp is an echo request', () => {
    expect(checkTraffic(check({ kind: 'tcp', port: 443 }))).toEqual({ proto: 'tcp', sport: 40000, dport: 443 });
    expect(checkTraffic(check({ kind: 'ssh' }))).toEqual({ proto: 'tcp', sport: 40000, dport: 22 });
    expect(checkTraffic(check({ kind: 'http', port: 8080 }))).toEqual({ proto: 'tcp', sport: 40000, dport: 8080 });
    expect(checkTraffic(check({ kind: 'dns' }))).toEqual({ proto: 'udp', sport: 40000, dport: 53 });
    expect(checkTraffic(check({ kind: 'icmp' }))).toEqual({ proto: 'icmp', icmpType: 8, icmpCode: 0 });
  });
});

describe('what a simulated host answers (the lab service)', () => {
  it('answers each kind only on a port that runs that service', () => {
    const refusal = (spec: Record<string, unknown>) => serviceRefusal(check(spec), LAB_SERVICES);
    expect(refusal({ kind: 'tcp', port: 8080 })).toBeNull();
    expect(refusal({ kind: 'tcp', port: 9999 })).toBe('connection refused');
    expect(refusal({ kind: 'ssh' })).toBeNull();
    expect(refusal({ kind: 'ssh', port: 80 })).toBe('connected but no SSH banner');
    expect(refusal({ kind: 'http' })).toBeNull();
    expect(refusal({ kind: 'http', path: '/missing' })).toBe('answered 404, expected 200');
    expect(refusal({ kind: 'http', path: '/missing', status: 404 })).toBeNull();
    expect(refusal({ kind: 'http', port: 22 })).toBe('not an HTTP server');
    expect(refusal({ kind: 'dns' })).toBeNull();
    expect(refusal({ kind: 'dns', port: 5353 })).toBe('port unreachable');
    expect(refusal({ kind: 'icmp' })).toBeNull();
  });

  it('runs nothing but what it is given', () => {
    expect(serviceRefusal(check({ kind: 'dns' }), { ssh: [22], http: [], dns: [] })).toBe('port unreachable');
    expect(serviceRefusal(check({ kind: 'http' }), { ssh: [22], http: [], dns: [] })).toBe('connection refused');
  });
});

describe('SimulatedHost.check', () => {
  const address = '198.18.0.11';
  const facts: HostFacts = { node: 'sim-a', interfaces: [{ name: 'eth0', addresses: [`${address}/24`] }] };
  // Ingress: HTTP on 80 and ICMP echo allowed, everything else dropped but the failsafes (tcp/22).
  // Egress: only DNS to 198.18.0.53 (and the failsafes, among them udp/53).
  const state = stateOf(
    hep('sim-a-eth0', { node: 'sim-a', interfaceName: 'eth0', expectedIPs: [address] }, { role: 'web' }),
    gnp('web', {
      selector: "role == 'web'",
      types: ['Ingress', 'Egress'],
      ingress: [
        { action: 'Allow', protocol: 'TCP', destination: { ports: [80] } },
        { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } },
      ],
      egress: [{ action: 'Allow', protocol: 'TCP', destination: { nets: ['198.18.0.80/32'], ports: [443] } }],
    }),
  );
  const program = compileHost(state, facts);
  const host = () => new SimulatedHost('sim-a', address, [{ name: 'eth0', addresses: [address] }], '198.18.0.1', LAB_SERVICES);

  it('without a program every service answers, and a port without one is closed', async () => {
    const h = host();
    for (const spec of [{ kind: 'ssh' }, { kind: 'http', port: 8080 }, { kind: 'dns' }, { kind: 'icmp' }]) expect((await h.check(check(spec))).ok, spec.kind).toBe(true);
    expect(await h.check(check({ kind: 'tcp', port: 9999, expect: 'closed' }))).toMatchObject({ ok: true, detail: expect.stringContaining('connection refused') });
  });

  it('the program decides what reaches the services, per kind', async () => {
    const h = host();
    await h.apply({ hash: 'x', text: '', program });
    expect((await h.check(check({ kind: 'http' }))).ok).toBe(true);
    expect((await h.check(check({ kind: 'icmp' }))).ok).toBe(true);
    expect((await h.check(check({ kind: 'ssh' }))).ok).toBe(true); // failsafe tcp/22
    const http8080 = await h.check(check({ kind: 'http', port: 8080 }));
    expect(http8080).toMatchObject({ ok: false, detail: expect.stringContaining('filtered: deny') });
    expect((await h.check(check({ kind: 'http', port: 8080, expect: 'closed' }))).ok).toBe(true);
    expect((await h.check(check({ kind: 'dns' }))).detail).toMatch(/filtered: deny/);
  });

  it('host vantage judges the outbound packet and needs a target', async () => {
    const h = host();
    await h.apply({ hash: 'x', text: '', program });
    expect((await h.check(check({ kind: 'tcp', port: 443, vantage: 'host', target: '198.18.0.80' }))).ok).toBe(true);
    expect((await h.check(check({ kind: 'tcp', port: 443, vantage: 'host', target: '198.18.0.81' }))).ok).toBe(false);
    expect((await h.check(check({ kind: 'dns', vantage: 'host', target: '198.18.0.53' }))).ok).toBe(true); // failsafe udp/53 out
    expect((await h.check(check({ kind: 'icmp', vantage: 'host', target: '198.18.0.53' }))).ok).toBe(false);
    expect(await h.check(check({ kind: 'icmp', vantage: 'host' }))).toMatchObject({ ok: false, detail: 'a host-vantage check needs a target address' });
  });
});
