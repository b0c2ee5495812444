import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compileHost } from '../../src/compiler/index.js';
import { entitySelector } from '../../src/compiler/entity-selector.js';
import { failsafeChain, type FailsafeRule } from '../../src/compiler/failsafe.js';
import type { HostProgram } from '../../src/compiler/ir.js';
import { renderNft } from '../../src/dataplane/index.js';
import { parsePolicyText } from '../../src/model/load.js';
import { simulate, type Packet } from '../../src/simulator/index.js';
import { stateOf } from '../support/policy-fixtures.js';

/**
 * Calico 3.29 behaviours, each with the Calico source (projectcalico/calico at v3.29.0) its table
 * comes from. Paths are repository-relative; line numbers are those of v3.29.0.
 */

const facts = { node: 'n1', interfaces: [{ name: 'eth0', addresses: ['198.18.0.10/24'] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] };
const hostEndpoint = (spec: Record<string, unknown> = {}, labels: Record<string, string> = { role: 'srv' }) => ({
  kind: 'HostEndpoint',
  metadata: { name: 'n1-eth0', labels },
  spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['198.18.0.10'], ...spec },
});
const peerHep = { kind: 'HostEndpoint', metadata: { name: 'peer', labels: { team: 'a' } }, spec: { node: 'n2', interfaceName: 'eth0', expectedIPs: ['198.18.0.20'] } };
const peerSet = { kind: 'GlobalNetworkSet', metadata: { name: 'peers', labels: { team: 'a' } }, spec: { nets: ['198.18.5.0/24'] } };
const ssh = (from: string, iface = 'eth0'): Packet => ({ iface, direction: 'ingress', proto: 'tcp', src: from, dst: '198.18.0.10', sport: 40000, dport: 22 });
const noFailsafes = { kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] } };

describe('rule namespaceSelector and serviceAccounts (libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go:60 getEndpointSelector)', () => {
  // The expected strings are Calico's own, from rules_test.go at the lines named.
  it.each([
    ['rules_test.go:148 namespaceSelector alone', { namespaceSelector: "namespacelabel1 == 'value1'", notSelector: 'has(label2)' }, '', 'pcns.namespacelabel1 == "value1"'],
    ['rules_test.go:329 selector and namespaceSelector', { selector: "projectcalico.org/orchestrator == 'k8s'", namespaceSelector: "key == 'value'" }, 'namespace', "(pcns.key == \"value\") && (projectcalico.org/orchestrator == 'k8s')"],
    ['rules_test.go:355 complex namespaceSelector', { namespaceSelector: "!has(key) || (has(key) && !key in {'value'})" }, 'namespace', '(!has(pcns.key) || (has(pcns.key) && !pcns.key in {"value"}))'],
    ['rules_test.go:381 serviceAccounts in a namespaced policy', { serviceAccounts: { names: ['sa1', 'sa2'], selector: "key == 'value1'" } }, 'namespace', "(projectcalico.org/namespace == 'namespace') && ((pcsa.key == \"value1\") && (projectcalico.org/serviceaccount in {\"sa1\", \"sa2\"}))"],
    ['rules_test.go:416 serviceAccounts in a global policy', { serviceAccounts: { names: ['sa1', 'sa2'], selector: "key == 'value1'" } }, '', '(pcsa.key == "value1") && (projectcalico.org/serviceaccount in {"sa1", "sa2"})'],
    ['rules_test.go:437 empty serviceAccounts', { serviceAccounts: {} }, '', undefined],
    ['rules_test.go:502 serviceAccounts, selector and namespaceSelector', { namespaceSelector: "nskey == 'nsvalue'", serviceAccounts: { names: ['sa3'], selector: "key == 'value2'" }, selector: 'has(label1)' }, 'namespace', '(pcns.nskey == "nsvalue") && (((pcsa.key == "value2") && (projectcalico.org/serviceaccount in {"sa3"})) && (has(label1)))'],
    ['rules_test.go:525 namespaceSelector label', { namespaceSelector: "namespace == 'red'", selector: 'has(label1)' }, 'namespace', '(pcns.namespace == "red") && (has(label1))'],
    ['rules_test.go:525 namespaceSelector all()', { namespaceSelector: 'all()', selector: 'has(label2)' }, 'namespace', '(has(projectcalico.org/namespace)) && (has(label2))'],
    ['rules_test.go:525 namespaceSelector global()', { namespaceSelector: 'global()', selector: 'has(label3)' }, 'namespace', '(!has(projectcalico.org/namespace)) && (has(label3))'],
    ['plain selector in a global policy is unchanged', { selector: "role == 'x'" }, '', "role == 'x'"],
  ])('%s', (_what, entity, ns, expected) => {
    expect(entitySelector(entity, ns)).toBe(expected);
  });

  const policy = (source: Record<string, unknown>) => ({
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'ssh' },
    spec: { selector: "role == 'srv'", ingress: [{ action: 'Allow', protocol: 'TCP', source, destination: { ports: [22] } }] },
  });
  const verdicts = (source: Record<string, unknown>) => {
    const program = compileHost(stateOf(hostEndpoint(), peerHep, peerSet, noFailsafes, policy(source)), facts);
    return ['198.18.0.20', '198.18.5.7', '203.0.113.9'].map((peer) => simulate(program, ssh(peer)).verdict);
  };

  // Before, the namespaceSelector was ignored and each of these rules opened port 22 to everyone.
  it('a non-global namespaceSelector matches no host endpoint, network set or unknown address', () => {
    expect(verdicts({ namespaceSelector: "team == 'a'" })).toEqual(['deny', 'deny', 'deny']);
    expect(verdicts({ namespaceSelector: 'all()' })).toEqual(['deny', 'deny', 'deny']);
    expect(verdicts({ namespaceSelector: "team == 'a'", selector: "team == 'a'" })).toEqual(['deny', 'deny', 'deny']);
  });

  it('global() matches the non-namespaced endpoints and sets, never an unknown address', () => {
    expect(verdicts({ namespaceSelector: 'global()' })).toEqual(['allow', 'allow', 'deny']);
    expect(verdicts({ namespaceSelector: 'global()', selector: "team == 'a'" })).toEqual(['allow', 'allow', 'deny']);
    expect(verdicts({})).toEqual(['allow', 'allow', 'allow']);
  });

  it('serviceAccounts match only workloads, and a services match has no endpoints on hosts', () => {
    expect(verdicts({ serviceAccounts: { names: ['default'] } })).toEqual(['deny', 'deny', 'deny']);
    const program = compileHost(
      stateOf(hostEndpoint(), noFailsafes, {
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'svc' },
        spec: { selector: 'all()', ingress: [{ action: 'Allow', source: { services: { name: 'kube-dns', namespace: 'kube-system' } } }] },
      }),
      facts,
    );
    expect(simulate(program, ssh('203.0.113.9')).verdict).toBe('deny');
  });
});

describe('profiles (felix/calc/active_rules_calculator.go, libcalico-go/lib/resources/static.go)', () => {
  const allowAll = { kind: 'Profile', metadata: { name: 'allow-all' }, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] } };

  it('a profile that does not exist becomes the default-drop profile (active_rules_calculator.go:366 DummyDropRules, :397), so a later profile cannot allow', () => {
    const program = compileHost(stateOf(hostEndpoint({ profiles: ['missing', 'allow-all'] }), allowAll, noFailsafes), facts);
    const sim = simulate(program, ssh('203.0.113.9'));
    expect(sim.verdict).toBe('deny');
    expect(sim.path.map((s) => s.text)).toContain('profile missing ingress rule 0 (Deny)');
    expect(program.warnings.join('\n')).toContain('lists profile missing, which does not exist: a default-drop profile stands in for it');
    const egress = simulate(program, { iface: 'eth0', direction: 'egress', proto: 'udp', src: '198.18.0.10', dst: '198.18.0.53', sport: 40000, dport: 53 });
    expect(egress.verdict).toBe('deny');
    // Listed after one that allows, it is never reached.
    const allowFirst = compileHost(stateOf(hostEndpoint({ profiles: ['allow-all', 'missing'] }), allowAll, noFailsafes), facts);
    expect(simulate(allowFirst, ssh('203.0.113.9')).verdict).toBe('allow');
  });

  it('projectcalico-default-allow is built in (static.go:28): allow all, both directions, without being defined', () => {
    const program = compileHost(stateOf(hostEndpoint({ profiles: ['projectcalico-default-allow'] }), noFailsafes), facts);
    expect(simulate(program, ssh('203.0.113.9')).verdict).toBe('allow');
    expect(simulate(program, { iface: 'eth0', direction: 'egress', proto: 'tcp', src: '198.18.0.10', dst: '203.0.113.9', sport: 40000, dport: 443 }).verdict).toBe('allow');
    expect(program.warnings).toEqual([]);
    const loaded = parsePolicyText(stringify({ apiVersion: 'projectcalico.org/v3', ...hostEndpoint({ profiles: ['projectcalico-default-allow'] }) }), 'h.yaml');
    expect(loaded.errors).toEqual([]);
    expect(loaded.warnings.filter((w) => w.code === 'MISSING_PROFILE')).toEqual([]);
  });

  it('a user Profile named projectcalico-default-allow is refused (libcalico-go/lib/clientv3/profile.go:48)', () => {
    const { errors } = parsePolicyText('apiVersion: projectcalico.org/v3\nkind: Profile\nmetadata:\n  name: projectcalico-default-allow\nspec: {}\n', 'p.yaml');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'p.yaml', line: 4, field: 'metadata.name' });
    expect(errors[0]!.message).toBe('projectcalico-default-allow already exists. The profile "projectcalico-default-allow" is default provided by Calico');
  });
});

describe('failsafe chains (felix/rules/static.go:474 failsafeInChain, :541 failsafeOutChain)', () => {
  // The configuration of felix/rules/static_test.go:98-106 and the chains it expects at :200-262.
  const failsafe: HostProgram['failsafe'] = {
    inbound: [{ protocol: 'tcp', port: 22, net: '0.0.0.0/0' }, { protocol: 'tcp', port: 1022, net: '10.0.0.0/24' }, { protocol: 'tcp', port: 1022, net: '::/0' }],
    outbound: [{ protocol: 'tcp', port: 23, net: '0.0.0.0/0' }, { protocol: 'tcp', port: 1023, net: '0.0.0.0/0' }],
  };
  /** Felix renders one chain per IP version and skips entries whose net is of the other family. */
  const forFamily = (rules: FailsafeRule[], family: 4 | 6) => rules.filter((r) => r.net === undefined || r.net.includes(':') === (family === 6));
  const text = (r: FailsafeRule) => `${r.protocol} ${r.portOf === 'destination' ? 'dport' : 'sport'} ${r.port} ${r.netOf === 'source' ? 'saddr' : 'daddr'} ${r.net}`;
  const cases: [string, 'filter' | 'raw', 'ingress' | 'egress', 4 | 6, string[]][] = [
    ['static_test.go:228 raw cali-failsafe-in, IPv4', 'raw', 'ingress', 4, ['tcp dport 22 saddr 0.0.0.0/0', 'tcp dport 1022 saddr 10.0.0.0/24', 'tcp sport 23 saddr 0.0.0.0/0', 'tcp sport 1023 saddr 0.0.0.0/0']],
    ['static_test.go:238 raw cali-failsafe-out, IPv4', 'raw', 'egress', 4, ['tcp dport 23 daddr 0.0.0.0/0', 'tcp dport 1023 daddr 0.0.0.0/0', 'tcp sport 22 daddr 0.0.0.0/0', 'tcp sport 1022 daddr 10.0.0.0/24']],
    ['static_test.go:248 filter cali-failsafe-in, IPv4', 'filter', 'ingress', 4, ['tcp dport 22 saddr 0.0.0.0/0', 'tcp dport 1022 saddr 10.0.0.0/24']],
    ['static_test.go:256 filter cali-failsafe-out, IPv4', 'filter', 'egress', 4, ['tcp dport 23 daddr 0.0.0.0/0', 'tcp dport 1023 daddr 0.0.0.0/0']],
    ['static_test.go:200 raw cali-failsafe-in, IPv6', 'raw', 'ingress', 6, ['tcp dport 1022 saddr ::/0']],
    ['static_test.go:207 raw cali-failsafe-out, IPv6', 'raw', 'egress', 6, ['tcp sport 1022 daddr ::/0']],
    ['static_test.go:214 filter cali-failsafe-in, IPv6', 'filter', 'ingress', 6, ['tcp dport 1022 saddr ::/0']],
    ['static_test.go:221 filter cali-failsafe-out, IPv6', 'filter', 'egress', 6, []],
  ];
  it.each(cases)('%s', (_what, table, direction, family, expected) => {
    expect(forFamily(failsafeChain(failsafe, table, direction), family).map(text)).toEqual(expected);
  });

  // The bug of issue 14: with an untracked deny, replies to the host's own DNS queries (outbound
  // failsafe udp/53) and to SSH sessions were dropped in raw, because raw reused the filter lists.
  it('with an untracked deny-all, replies of failsafe flows pass the raw table; new flows on those ports do not', () => {
    const program = compileHost(
      stateOf(hostEndpoint(), {
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'untracked-deny' },
        spec: { selector: 'all()', doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }], egress: [{ action: 'Deny' }] },
      }),
      facts,
    );
    const dnsReply: Packet = { iface: 'eth0', direction: 'ingress', proto: 'udp', src: '198.18.0.53', dst: '198.18.0.10', sport: 53, dport: 40000 };
    const sshReply: Packet = { iface: 'eth0', direction: 'egress', proto: 'tcp', src: '198.18.0.10', dst: '198.18.9.9', sport: 22, dport: 40000 };
    for (const p of [dnsReply, sshReply]) {
      const sim = simulate(program, p);
      expect(sim.path.some((s) => s.stage === 'untracked' && s.text.includes('(reply, by source port)'))).toBe(true);
      expect(sim.path.some((s) => s.stage === 'untracked' && s.text.includes('rule 0 (Deny)'))).toBe(false);
    }
    // A new inbound flow *from* port 53 to a non-failsafe port is a reply only by its source port: Felix accepts it in raw too.
    expect(simulate(program, { ...dnsReply, dport: 8080 }).path.some((s) => s.text.includes('reply, by source port'))).toBe(true);
    expect(simulate(program, { ...dnsReply, sport: 5353 }).verdict).toBe('deny');
    const text = renderNft(program);
    expect(text).toContain('chain raw-failsafe-in {');
    expect(text).toMatch(/meta l4proto \. th sport \{ udp \. 53, udp \. 67, tcp \. 179/);
    expect(text).toMatch(/chain ufh-n1-eth0 \{[^}]*jump raw-failsafe-in/);
    expect(text).toMatch(/chain fh-n1-eth0 \{[^}]*jump failsafe-in /);
  });
});

describe('validation (libcalico-go/lib/validator/v3/validator.go at v3.29.0)', () => {
  const gnp = (rule: Record<string, unknown>) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  ingress:
  - ${JSON.stringify(rule)}
`;

  it('rule metadata annotation keys must be qualified names (validator.go:1897 validateRuleMetadata → :1848)', () => {
    const bad = parsePolicyText(gnp({ action: 'Allow', metadata: { annotations: { 'a/b/c': 'x', ok: 'y' } } }), 'p.yaml');
    expect(bad.errors.map((e) => `${e.field}: ${e.message}`)).toEqual([expect.stringMatching(/^spec\.ingress\[0\]\.metadata\.annotations\.a\/b\/c: invalid annotation key 'a\/b\/c': a qualified name must consist of/)]);
    // Checked after lower-casing, as Calico does: upper case is fine.
    expect(parsePolicyText(gnp({ action: 'Allow', metadata: { annotations: { 'Example.COM/Key': 'x' } } }), 'p.yaml').errors).toEqual([]);
  });

  it('a catch-all in notNets is accepted as in 3.29.0 (the check arrived in 3.29.6 / 3.30.3 / 3.31), with a warning at its line', () => {
    const r = parsePolicyText(gnp({ action: 'Deny', source: { notNets: ['0.0.0.0/0'] } }), 'p.yaml');
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([
      expect.objectContaining({ code: 'NOTNETS_CATCH_ALL', file: 'p.yaml', line: 7, field: 'spec.ingress[0].source.notNets[0]', message: expect.stringContaining('rejected from Calico 3.29.6, 3.30.3 and 3.31') }),
    ]);
  });

  it('two HostEndpoint ports may share a name when their protocols differ, not within one protocol', () => {
    const hep = (ports: unknown[]) => stringify({ apiVersion: 'projectcalico.org/v3', ...hostEndpoint({ ports }) });
    expect(parsePolicyText(hep([{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns', protocol: 'TCP', port: 53 }]), 'h.yaml').errors).toEqual([]);
    const dup = parsePolicyText(hep([{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns', protocol: 'UDP', port: 5353 }]), 'h.yaml').errors;
    expect(dup.map((e) => `${e.field}: ${e.message}`)).toEqual(["spec.ports[1].name: port name 'dns' is used more than once for protocol UDP"]);
  });

  it('named ports shared across protocols resolve per protocol (felix/labelindex/named_port_index.go)', () => {
    const program = compileHost(
      stateOf(hostEndpoint({ ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns', protocol: 'TCP', port: 5353 }] }), noFailsafes, {
        kind: 'GlobalNetworkPolicy',
        metadata: { name: 'dns' },
        spec: { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'UDP', destination: { selector: "role == 'srv'", ports: ['dns'] } }] },
      }),
      facts,
    );
    const dns = (dport: number, proto = 'udp'): Packet => ({ iface: 'eth0', direction: 'ingress', proto, src: '203.0.113.9', dst: '198.18.0.10', sport: 40000, dport });
    expect([simulate(program, dns(53)).verdict, simulate(program, dns(5353)).verdict, simulate(program, dns(53, 'tcp')).verdict]).toEqual(['allow', 'deny', 'deny']);
  });

  // felix/config/config_params.go:45-50 (the element regexps) and param_types.go:234.
  it.each([
    ['kube-ipvs0', true],
    ['/^kube/,veth1', true],
    ['/^veth[0-9]+$/', true],
    ['eth0,', false],
    ['eth.0', false], // plain names may not contain '.': Felix's NonRegexpIfaceElemRegexp
    ['eth0, eth1', false],
    ['/(?=x)/', false], // lookahead is not RE2
    ['/a(/', false],
    ['//', false],
    ['a-very-long-interface', false],
  ])('interfaceExclude %j valid: %s', (value, valid) => {
    const r = parsePolicyText(`apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  interfaceExclude: ${JSON.stringify(value)}\n`, 'f.yaml');
    expect(r.errors.length === 0).toBe(valid);
    if (!valid) expect(r.errors[0]).toMatchObject({ line: 6, field: 'spec.interfaceExclude', message: expect.stringContaining('interfaceExclude:') });
  });
});

describe('interfaceExclude in the compiler (felix/ifacemonitor/iface_monitor.go:190, felix/dataplane/linux/endpoint_mgr.go:951)', () => {
  const ifaces = { node: 'n1', interfaces: [{ name: 'eth0', addresses: ['198.18.0.10/24'] }, { name: 'kube-ipvs0', addresses: ['198.18.1.1/32'] }, { name: 'veth7', addresses: ['198.18.2.1/24'] }] };
  const heps = [
    { kind: 'HostEndpoint', metadata: { name: 'a-ipvs' }, spec: { node: 'n1', interfaceName: 'kube-ipvs0' } },
    { kind: 'HostEndpoint', metadata: { name: 'b-veth' }, spec: { node: 'n1', expectedIPs: ['198.18.2.1'] } },
    { kind: 'HostEndpoint', metadata: { name: 'c-eth0' }, spec: { node: 'n1', interfaceName: 'eth0' } },
  ];
  const roles = (program: HostProgram) => program.interfaces.map((b) => `${b.iface}:${b.role}${b.hep ? `:${b.hep}` : ''}`);

  it('excluded interfaces get no host endpoint, by name or by address; the default excludes kube-ipvs0', () => {
    expect(roles(compileHost(stateOf(...heps), ifaces))).toEqual(['eth0:hep:c-eth0', 'kube-ipvs0:excluded', 'veth7:hep:b-veth']);
    const withRegex = stateOf(...heps, { kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { interfaceExclude: '/^veth/,eth9' } });
    expect(roles(compileHost(withRegex, ifaces))).toEqual(['eth0:hep:c-eth0', 'kube-ipvs0:hep:a-ipvs', 'veth7:excluded']);
    const program = compileHost(withRegex, ifaces);
    const sim = simulate(program, { iface: 'veth7', direction: 'ingress', proto: 'tcp', src: '198.18.2.9', dst: '198.18.2.1', sport: 40000, dport: 22 });
    expect(sim.verdict).toBe('no-policy');
    expect(sim.path.at(-1)?.text).toBe('interface veth7 is in interfaceExclude: Felix does not police it');
    expect(renderNft(program)).not.toContain('"veth7"');
  });

  it('the `*` host endpoint still covers an excluded interface: its dispatch rule is a catch-all (felix/rules/dispatch.go:180)', () => {
    const star = { kind: 'HostEndpoint', metadata: { name: 'all' }, spec: { node: 'n1', interfaceName: '*' } };
    expect(roles(compileHost(stateOf(...heps, star), ifaces))).toEqual(['eth0:hep:c-eth0', 'kube-ipvs0:hep:all', 'veth7:hep:b-veth']);
  });
});
