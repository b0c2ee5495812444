import { describe, expect, it } from 'vitest';
import { compileHost, type HostFacts } from '../../src/compiler/index.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

const facts: HostFacts = {
  node: 'n1',
  interfaces: [
    { name: 'eth0', addresses: ['198.18.0.2/24'] },
    { name: 'eth1', addresses: ['198.18.1.2/24'] },
    { name: 'lo', addresses: ['127.0.0.1/8'] },
    { name: 'cali123', addresses: [] },
  ],
};

describe('compileHost: which host endpoint governs which interface', () => {
  it('binds by interfaceName and by expectedIPs, the alphabetically first HEP winning; workload and unmatched interfaces are not HEPs', () => {
    const p = compileHost(
      stateOf(
        hep('b-eth0', { node: 'n1', interfaceName: 'eth0' }),
        hep('a-by-ip', { node: 'n1', expectedIPs: ['198.18.0.2'] }),
        hep('c-by-ip', { node: 'n1', expectedIPs: ['198.18.1.2'] }),
        hep('other-node', { node: 'n2', interfaceName: 'lo' }),
        hep('d-cali', { node: 'n1', interfaceName: 'cali123' }),
      ),
      facts,
    );
    expect(p.interfaces).toEqual([
      { iface: 'cali123', role: 'workload' },
      { iface: 'eth0', role: 'hep', hep: 'a-by-ip', via: 'expectedIPs' },
      { iface: 'eth1', role: 'hep', hep: 'c-by-ip', via: 'expectedIPs' },
      { iface: 'lo', role: 'unmanaged' },
    ]);
    expect(p.endpoints.map((e) => e.hep)).toEqual(['a-by-ip', 'c-by-ip']);
  });

  it('a `*` HEP governs every non-workload interface without its own HEP, loopback included', () => {
    const p = compileHost(stateOf(hep('star', { node: 'n1', interfaceName: '*' }), hep('eth0', { node: 'n1', interfaceName: 'eth0' })), facts);
    expect(p.interfaces.map((b) => [b.iface, b.role, b.hep, b.via])).toEqual([
      ['cali123', 'workload', undefined, undefined],
      ['eth0', 'hep', 'eth0', 'interfaceName'],
      ['eth1', 'hep', 'star', 'wildcard'],
      ['lo', 'hep', 'star', 'wildcard'],
    ]);
  });
});

describe('compileHost: ordering', () => {
  it('orders tiers by order (default at 1e6, unknown last) and policies by order then name, nil order last', () => {
    const state = stateOf(
      { kind: 'Tier', metadata: { name: 'security' }, spec: { order: 100 } },
      { kind: 'Tier', metadata: { name: 'late' }, spec: { order: 2e6, defaultAction: 'Pass' } },
      hep('h', { node: 'n1', interfaceName: 'eth0' }),
      gnp('late.x', { tier: 'late', ingress: [{ action: 'Allow' }] }),
      gnp('z-first', { order: 1, ingress: [{ action: 'Deny' }] }),
      gnp('a-nil', { ingress: [{ action: 'Deny' }] }),
      gnp('b-ten', { order: 10, ingress: [{ action: 'Deny' }] }),
      gnp('a-ten', { order: 10, ingress: [{ action: 'Deny' }] }),
      gnp('security.s', { tier: 'security', order: 5, ingress: [{ action: 'Pass' }] }),
    );
    const ingress = compileHost(state, facts).endpoints[0]!.stages['normal-ingress']!;
    expect(ingress.tiers.map((t) => [t.name, t.endOfTier, t.policies])).toEqual([
      ['security', 'drop', ['pi-security.s']],
      ['default', 'drop', ['pi-z-first', 'pi-a-ten', 'pi-b-ten', 'pi-a-nil']],
      ['late', 'pass', ['pi-late.x']],
    ]);
  });

  it('puts doNotTrack, preDNAT and applyOnForward policy into their own stages', () => {
    const state = stateOf(
      hep('h', { node: 'n1', interfaceName: 'eth0' }),
      gnp('untracked', { doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
      gnp('prednat', { preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
      gnp('fwd', { applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    );
    const stages = compileHost(state, facts).endpoints[0]!.stages;
    expect(Object.keys(stages).sort()).toEqual(['forward-ingress', 'normal-egress', 'normal-ingress', 'prednat-ingress', 'untracked-ingress']);
    expect(stages['untracked-ingress']!.tiers[0]!.endOfTier).toBe('pass');
    expect(stages['forward-ingress']!.final).toBe('none');
    expect(stages['normal-ingress']!.tiers[0]!.policies).toEqual(['pi-fwd']);
  });
});

describe('compileHost: address sets', () => {
  it('builds selector sets from every HEP expectedIP and GlobalNetworkSet net in the repository, per family, nested nets folded', () => {
    const state = stateOf(
      hep('h', { node: 'n1', interfaceName: 'eth0' }, { role: 'web' }),
      hep('db', { node: 'n9', interfaceName: 'eth0', expectedIPs: ['198.18.9.9', '2001:db8::9'] }, { role: 'db' }),
      { kind: 'GlobalNetworkSet', metadata: { name: 'dbs', labels: { role: 'db' } }, spec: { nets: ['198.18.9.0/24', '198.18.9.77/16'] } },
      gnp('p', { selector: "role == 'web'", ingress: [{ action: 'Allow', source: { selector: "role == 'db'" } }] }),
    );
    const p = compileHost(state, facts);
    expect(p.addressSets.map((s) => [s.family, s.selector, s.elements])).toEqual([
      [4, 'role == "db"', ['198.18.0.0/16']],
      [6, 'role == "db"', ['2001:db8::9']],
    ]);
  });

  it('is deterministic and JSON-serialisable', () => {
    const state = stateOf(hep('h', { node: 'n1', interfaceName: 'eth0' }), gnp('p', { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22, '80:90'] } }] }));
    const a = compileHost(state, facts);
    expect(JSON.parse(JSON.stringify(a))).toEqual(compileHost(state, facts));
  });
});
