import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExplain } from '../../src/cli/explain.js';
import { runRender } from '../../src/cli/render.js';
import { compileHost } from '../../src/compiler/index.js';
import { formatPath, formatVerdict, prepareProgram, simulate, type Packet } from '../../src/simulator/index.js';
import { stateOf } from '../support/policy-fixtures.js';

// Scenarios after the Calico host-protection docs ("Protect hosts", "Protect Kubernetes nodes",
// "Apply policy to forwarded traffic", failsafe rules).
const WORKER = `
kind: HostEndpoint
metadata: { name: node1-eth0, labels: { role: k8s-worker, host-endpoint: ingress } }
spec: { node: node1, interfaceName: eth0, expectedIPs: [198.18.0.10] }
---
kind: HostEndpoint
metadata: { name: node2-eth0, labels: { role: k8s-worker } }
spec: { node: node2, interfaceName: eth0, expectedIPs: [198.18.0.11] }
---
kind: GlobalNetworkPolicy
metadata: { name: k8s-worker }
spec:
  selector: "role == 'k8s-worker'"
  order: 0
  ingress:
  - action: Allow
    protocol: TCP
    source: { selector: "role == 'k8s-worker'" }
    destination: { ports: [10250] }
  egress:
  - action: Allow
`;
const facts = { node: 'node1', interfaces: [{ name: 'eth0', addresses: ['198.18.0.10/24'] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] };
const NO_INBOUND_FAILSAFES = 'kind: FelixConfiguration\nmetadata: { name: default }\nspec: { failsafeInboundHostPorts: [] }';
const FAILSAFE_POLICY = [
  'kind: FelixConfiguration\nmetadata: { name: default }\nspec: { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] }',
  'kind: Tier\nmetadata: { name: failsafe }\nspec: { order: 10, defaultAction: Pass }',
  `kind: GlobalNetworkPolicy
metadata: { name: failsafe.ssh }
spec:
  tier: failsafe
  selector: all()
  ingress: [{ action: Allow, protocol: TCP, source: { nets: [198.18.100.0/24] }, destination: { ports: [22] } }]`,
];
const PROTECTED_SERVER = [
  `kind: GlobalNetworkPolicy
metadata: { name: protected-server }
spec:
  selector: has(host-endpoint)
  order: 10
  ingress: [{ action: Deny, protocol: TCP, source: { notNets: [198.18.50.0/24] }, destination: { ports: [5432] } }]`,
  `kind: GlobalNetworkPolicy
metadata: { name: bl-default-allow }
spec:
  selector: has(host-endpoint)
  order: 1000
  ingress: [{ action: Allow }]
  egress: [{ action: Allow }]`,
];
const STAR_HEP = 'kind: HostEndpoint\nmetadata: { name: node1-all, labels: { role: k8s-worker } }\nspec: { node: node1, interfaceName: "*" }';
const APPLY_ON_FORWARD = `kind: GlobalNetworkPolicy
metadata: { name: fwd }
spec: { selector: "role == 'k8s-worker'", applyOnForward: true, ingress: [{ action: Allow, protocol: TCP, destination: { ports: [80] } }] }`;
const factsWithEth9 = { ...facts, interfaces: [...facts.interfaces, { name: 'eth9', addresses: [] }] };
const inbound = (src: string, dport: number, proto = 'tcp'): Packet => ({ iface: 'eth0', direction: 'ingress', proto, src, dst: '198.18.0.10', sport: 40000, dport });

describe('Calico host-protection scenarios', () => {
  it('k8s-worker: kubelet only from other workers; ssh through the failsafe; everything else dropped at the end of the tier', () => {
    const p = compileHost(stateOf(WORKER), facts);
    expect(formatVerdict(simulate(p, inbound('198.18.0.11', 10250)))).toBe('allow (policy k8s-worker ingress rule 0 (Allow))');
    expect(formatVerdict(simulate(p, inbound('198.18.0.99', 10250)))).toBe('deny (policy k8s-worker, end of tier default)');
    expect(formatVerdict(simulate(p, inbound('198.18.0.99', 22)))).toBe('allow (failsafe tcp/22)');
    expect(simulate(p, { iface: 'eth0', direction: 'egress', proto: 'tcp', src: '198.18.0.10', dst: '198.18.0.99', sport: 40000, dport: 443 }).verdict).toBe('allow');
  });

  it('failsafe ports emptied: ssh is no longer special', () => {
    const p = compileHost(stateOf(WORKER, NO_INBOUND_FAILSAFES), facts);
    expect(formatVerdict(simulate(p, inbound('198.18.0.99', 22)))).toBe('deny (policy k8s-worker, end of tier default)');
  });

  it('the failsafe policy: failsafes re-created as ordinary policy in a first tier', () => {
    const p = compileHost(
      stateOf(WORKER, ...FAILSAFE_POLICY),
      facts,
    );
    expect(formatVerdict(simulate(p, inbound('198.18.100.5', 22)))).toBe('allow (policy failsafe.ssh ingress rule 0 (Allow))');
    expect(formatVerdict(simulate(p, inbound('198.18.0.99', 22)))).toBe('deny (policy k8s-worker, end of tier default)');
  });

  it('protected server with bl-default-allow: a low-priority allow-all keeps everything not explicitly denied open', () => {
    const p = compileHost(
      stateOf(WORKER, ...PROTECTED_SERVER),
      facts,
    );
    expect(formatVerdict(simulate(p, inbound('198.18.0.99', 5432)))).toBe('deny (policy protected-server ingress rule 0 (Deny))');
    expect(formatVerdict(simulate(p, inbound('198.18.50.7', 5432)))).toBe('allow (policy bl-default-allow ingress rule 0 (Allow))');
    expect(formatVerdict(simulate(p, inbound('198.18.0.99', 8080)))).toBe('allow (policy bl-default-allow ingress rule 0 (Allow))');
  });

  it('`*` host endpoint: loopback and interfaces without their own HEP are policed too', () => {
    const p = compileHost(
      stateOf(WORKER, STAR_HEP),
      factsWithEth9,
    );
    const lo = { iface: 'lo', direction: 'ingress' as const, proto: 'tcp', src: '127.0.0.1', dst: '127.0.0.1', sport: 40000, dport: 8080 };
    expect(formatVerdict(simulate(p, lo))).toBe('deny (policy k8s-worker, end of tier default)');
    expect(simulate(p, { ...lo, iface: 'eth9' }).verdict).toBe('deny');
    expect(simulate(p, { ...lo, iface: 'eth-new' }).verdict).toBe('deny');
  });

  it('applyOnForward: forwarded traffic meets only applyOnForward policy; without any it is not policed', () => {
    const fwd = (dport: number): Packet => ({ iface: 'eth0', direction: 'ingress', forwardTo: 'eth1', proto: 'tcp', src: '198.18.0.99', dst: '198.18.9.9', sport: 40000, dport });
    const noAof = compileHost(stateOf(WORKER), facts);
    expect(simulate(noAof, fwd(80)).verdict).toBe('no-policy');
    const p = compileHost(
      stateOf(WORKER, APPLY_ON_FORWARD),
      facts,
    );
    expect(simulate(p, fwd(80)).verdict).toBe('allow');
    expect(formatVerdict(simulate(p, fwd(81)))).toBe('deny (policy fwd, end of tier default)');
  });
});

/** Named ports, a selector-built address set and several rule networks, so every prepared lookup is exercised; evaluated before k8s-worker (same order, name first). */
const NAMED_PORTS = [
  'kind: HostEndpoint\nmetadata: { name: web1, labels: { role: web } }\nspec: { node: web1, expectedIPs: [198.18.0.20], ports: [{ name: http, protocol: TCP, port: 8080 }] }',
  'kind: HostEndpoint\nmetadata: { name: web2, labels: { role: web } }\nspec: { node: web2, expectedIPs: [198.18.0.21, 198.18.7.0], ports: [{ name: http, protocol: UDP, port: 8081 }] }',
  `kind: GlobalNetworkPolicy
metadata: { name: a-to-web }
spec:
  selector: "role == 'k8s-worker'"
  order: 0
  egress: [{ action: Allow, protocol: TCP, destination: { selector: "role == 'web'", ports: [http] } }, { action: Deny, destination: { selector: "role == 'web'" } }]
  ingress:
    - { action: Allow, source: { selector: "role == 'web'", notNets: [198.18.0.21/32] } }
    - { action: Deny, protocol: UDP, source: { nets: [10.0.0.0/8] } }
    - { action: Allow, protocol: TCP, source: { nets: [198.18.50.0/24, 127.0.0.0/8] } }`,
];

describe('the prepared program (indexes built once per program, reused for every packet)', () => {
  const scenarios = {
    worker: compileHost(stateOf(WORKER), facts),
    'no inbound failsafes': compileHost(stateOf(WORKER, NO_INBOUND_FAILSAFES), facts),
    'failsafe policy': compileHost(stateOf(WORKER, ...FAILSAFE_POLICY), facts),
    'protected server': compileHost(stateOf(WORKER, ...PROTECTED_SERVER), facts),
    '`*` hep': compileHost(stateOf(WORKER, STAR_HEP), factsWithEth9),
    'apply on forward': compileHost(stateOf(WORKER, APPLY_ON_FORWARD), facts),
    'named ports': compileHost(stateOf(WORKER, ...NAMED_PORTS), facts),
  };
  const peers = ['198.18.0.11', '198.18.0.20', '198.18.0.21', '198.18.7.0', '198.18.50.7', '198.18.100.5', '198.18.0.99', '10.1.2.3', '127.0.0.1'];
  const packets: Packet[] = [];
  for (const peer of peers)
    for (const proto of ['tcp', 'udp'])
      for (const dport of [22, 80, 81, 5432, 8080, 8081, 10250])
        for (const iface of ['eth0', 'lo', 'eth9', 'eth-new']) {
          packets.push({ iface, direction: 'ingress', proto, src: peer, dst: '198.18.0.10', sport: 40000, dport });
          packets.push({ iface, direction: 'egress', proto, src: '198.18.0.10', dst: peer, sport: 40000, dport });
          packets.push({ iface, direction: 'ingress', forwardTo: 'eth1', proto, src: peer, dst: '198.18.9.9', sport: 40000, dport });
        }
  packets.push(...peers.map((src): Packet => ({ iface: 'eth0', direction: 'ingress', proto: 'icmp', src, dst: '198.18.0.10', icmpType: 8, icmpCode: 0 })));

  it.each(Object.entries(scenarios))('%s: every packet gets the verdict and path a freshly indexed copy of the program gives', (_, program) => {
    // A structured clone is a program never seen before, so it is indexed afresh for this one
    // packet — the per-packet evaluation the prepared form replaced; the original is indexed once.
    const seen = new Set<string>();
    for (const packet of packets) {
      const reused = simulate(program, packet);
      expect(reused).toEqual(simulate(structuredClone(program), packet));
      seen.add(formatVerdict(reused));
    }
    // The grid reaches more than one outcome, or the comparison would prove little.
    expect(seen.size).toBeGreaterThan(2);
  });

  it('named ports and address sets decide as the policy says', () => {
    const p = scenarios['named ports'];
    const out = (dst: string, proto: string, dport: number): Packet => ({ iface: 'eth0', direction: 'egress', proto, src: '198.18.0.10', dst, sport: 40000, dport });
    expect(formatVerdict(simulate(p, out('198.18.0.20', 'tcp', 8080)))).toBe('allow (policy a-to-web egress rule 0 (Allow))');
    expect(formatVerdict(simulate(p, out('198.18.0.20', 'tcp', 8081)))).toBe('deny (policy a-to-web egress rule 1 (Deny))');
    // web2 offers `http` over UDP only: a TCP rule looks the name up as TCP and finds nothing.
    expect(formatVerdict(simulate(p, out('198.18.7.0', 'tcp', 8081)))).toBe('deny (policy a-to-web egress rule 1 (Deny))');
    expect(formatPath(simulate(p, { iface: 'eth0', direction: 'ingress', proto: 'udp', src: '198.18.0.20', dst: '198.18.0.10', sport: 40000, dport: 9 }))).toContain('policy a-to-web ingress rule 0 (Allow)');
    expect(formatVerdict(simulate(p, { iface: 'eth0', direction: 'ingress', proto: 'udp', src: '198.18.0.21', dst: '198.18.0.10', sport: 40000, dport: 9 }))).toBe('deny (policy k8s-worker, end of tier default)');
  });

  it('is built once per program object', () => {
    const p = scenarios.worker;
    expect(prepareProgram(p)).toBe(prepareProgram(p));
    expect(prepareProgram(structuredClone(p))).not.toBe(prepareProgram(p));
  });
});

describe('palisade explain / render', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'palisade-explain-'));
    await writeFile(join(dir, 'policy.yaml'), WORKER.replace(/^kind:/gm, 'apiVersion: projectcalico.org/v3\nkind:'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const io = () => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
  };

  it('explains a packet with its path and exits 1 on deny', async () => {
    const { out, io: cio } = io();
    const code = await runExplain(['--repo', dir, '--host', 'node1', '--iface', 'eth0', '--direction', 'ingress', '--proto', 'tcp', '--src', '198.18.0.99', '--dst', '198.18.0.10', '--dport', '10250'], cio);
    expect(out.stderr).toBe('');
    expect(code).toBe(1);
    expect(out.stdout).toContain('=> deny (policy k8s-worker, end of tier default)');
    expect(out.stdout).toMatch(/^smallest change: policy k8s-worker ingress rule \d+ \(Allow\) would allow it if the source were in /m);
  });

  it('rejects a bad direction with a usage error (exit 2)', async () => {
    const { out, io: cio } = io();
    expect(await runExplain(['--repo', dir, '--host', 'node1', '--iface', 'eth0', '--direction', 'sideways', '--proto', 'tcp', '--src', '1.1.1.1', '--dst', '1.1.1.2'], cio)).toBe(2);
    expect(out.stderr).toContain('--direction must be ingress or egress');
  });

  it('renders the nft batch for a host', async () => {
    const { out, io: cio } = io();
    expect(await runRender(['--repo', dir, '--host', 'node1'], cio)).toBe(0);
    expect(out.stdout.startsWith('table inet palisade {}\ndelete table inet palisade\n')).toBe(true);
    expect(out.stdout).toContain('chain fh-node1-eth0 {');
  });
});
