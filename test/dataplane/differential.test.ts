import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { netnsNft, renderNft } from '../../src/dataplane/index.js';
import { simulate, type Packet, type Simulation } from '../../src/simulator/index.js';
import { addIpv6, createRoutedNet, createVethPair, isRoot, ping, sh, type RoutedNet, type VethPair } from '../support/netns.js';
import { startAgent, useProbePair, type AgentProbe, type ProbeAgent } from '../support/probe-agent.js';
import { stateOf } from '../support/policy-fixtures.js';

/**
 * Simulator vs kernel: random policy sets (with preDNAT policies and ICMP rules), applied for real
 * in a namespace, and real TCP connects, UDP exchanges and ICMP echoes (iputils ping) across veth
 * in both directions. Every disagreement fails with fast-check's seed
 * and the shrunk policy set. PALISADE_DIFF_RUNS raises the number of cases (bench runs thousands).
 */
const RUNS = Number(process.env.PALISADE_DIFF_RUNS ?? 200);
/** The IPv6/doNotTrack and forwarding classes: fewer cases each, so the file stays near a minute in CI. */
const RUNS_EXTRA = Math.max(1, Math.round(RUNS / 3));
const SUBNET = 21;
const CLIENTS = [`198.18.${SUBNET}.1`, `198.18.${SUBNET}.3`, `198.18.${SUBNET}.5`];
const SERVER = `198.18.${SUBNET}.2`;
const PORTS = [1001, 1002, 1003, 22];
const TIMEOUT_MS = 150;

const portsArb = fc.subarray(['1001', '1002', '1003', '1001:1002', '22'], { minLength: 1, maxLength: 2 });
const V4_NETS = [`198.18.${SUBNET}.0/24`, `198.18.${SUBNET}.1/32`, `198.18.${SUBNET}.4/30`, '10.0.0.0/8'];
const selectorArb = fc.constantFrom("grp == 'a'", "grp == 'b'", 'has(grp)', "grp in {'a', 'b'}", "role == 'srv'");
const peerOf = (nets: string[]) => {
  const netsArb = fc.subarray(nets, { minLength: 1, maxLength: 2 });
  return fc.record({ nets: netsArb, notNets: netsArb, selector: selectorArb, notSelector: selectorArb }, { requiredKeys: [] });
};
const peerArb = peerOf(V4_NETS);
/** Echo request is type 8 code 0; type 0 (echo reply) never matches a ping's first packet. */
const icmpArb = fc.option(fc.constantFrom({ type: 8 }, { type: 8, code: 0 }, { type: 8, code: 1 }, { type: 0 }), { nil: undefined });
const ruleOf = (peer: typeof peerArb, protocols: (string | number)[]) => fc
  .record({
    action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log', 'Allow'),
    protocol: fc.option(fc.constantFrom(...protocols), { nil: undefined }),
    notProtocol: fc.option(fc.constantFrom('TCP', 'UDP', 'ICMP'), { nil: undefined }),
    peer,
    ports: fc.option(portsArb, { nil: undefined }),
    notPorts: fc.option(portsArb, { nil: undefined }),
    icmp: icmpArb,
    notICMP: icmpArb,
  })
  .map((r) => {
    // Calico allows ports only with a port protocol, and icmp / notICMP only with protocol ICMP by name.
    const withPorts = r.protocol !== undefined && r.protocol !== 'ICMP' && r.protocol !== 1;
    const isIcmp = r.protocol === 'ICMP';
    const local: Record<string, unknown> = {};
    if (withPorts && r.ports) local.ports = r.ports;
    if (withPorts && r.notPorts) local.notPorts = r.notPorts;
    const rule: Record<string, unknown> = { action: r.action };
    if (r.protocol !== undefined) rule.protocol = r.protocol;
    if (r.notProtocol !== undefined) rule.notProtocol = r.notProtocol;
    if (isIcmp && r.icmp) rule.icmp = r.icmp;
    if (isIcmp && r.notICMP) rule.notICMP = r.notICMP;
    return { rule, peer: r.peer, local };
  });
const ruleArb = ruleOf(peerArb, ['TCP', 'UDP', 6, '17', 'ICMP', 1]);
const policyArb = fc.record({
  /** preDNAT: ingress only, in mangle prerouting before the normal stage (doNotTrack has its own class below, with a two-packet oracle). */
  preDNAT: fc.constantFrom(false, false, false, true),
  tier: fc.constantFrom('default', 'default', 'first'),
  order: fc.option(fc.constantFrom(1, 2, 5), { nil: null }),
  selector: fc.constantFrom('all()', "role == 'srv'", "role == 'other'"),
  ingress: fc.array(ruleArb, { maxLength: 3 }),
  egress: fc.array(ruleArb, { maxLength: 2 }),
});
const caseArb = fc.record({
  policies: fc.array(policyArb, { maxLength: 3 }),
  firstTierPass: fc.boolean(),
  profile: fc.option(fc.array(ruleArb, { maxLength: 2 }), { nil: undefined }),
  failsafe: fc.constantFrom('default', 'none', 'tcp1003'),
  probes: fc.array(
    fc.record({ egress: fc.boolean(), proto: fc.constantFrom('tcp' as const, 'udp' as const, 'icmp' as const), client: fc.constantFrom(...CLIENTS), port: fc.constantFrom(...PORTS) }),
    { minLength: 1, maxLength: 4 },
  ),
});
type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

function stateFor(c: Case, serverIf: string) {
  const docs: Record<string, unknown>[] = [
    { kind: 'HostEndpoint', metadata: { name: 'srv', labels: { role: 'srv' } }, spec: { node: 'server', interfaceName: serverIf, expectedIPs: [SERVER], profiles: c.profile ? ['prof'] : [] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'grp-a', labels: { grp: 'a' } }, spec: { nets: [`${CLIENTS[1]}/32`] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'grp-b', labels: { grp: 'b' } }, spec: { nets: [`198.18.${SUBNET}.4/31`, '10.1.0.0/16'] } },
    { kind: 'Tier', metadata: { name: 'first' }, spec: { order: 10, defaultAction: c.firstTierPass ? 'Pass' : 'Deny' } },
  ];
  if (c.failsafe !== 'default') {
    const inbound = c.failsafe === 'none' ? [] : [{ protocol: 'TCP', port: 1003 }];
    docs.push({ kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: inbound, failsafeOutboundHostPorts: inbound } });
  }
  // The peer is the client; ports are always destination ports (the server's for ingress, the client's for egress).
  const rulesOf = (rules: Case['policies'][number]['ingress'], direction: 'ingress' | 'egress') =>
    rules.map((r) => (direction === 'ingress' ? { ...r.rule, source: r.peer, destination: r.local } : { ...r.rule, destination: { ...r.peer, ...r.local } }));
  if (c.profile) docs.push({ kind: 'Profile', metadata: { name: 'prof' }, spec: { ingress: rulesOf(c.profile, 'ingress'), egress: rulesOf(c.profile, 'egress') } });
  c.policies.forEach((p, i) => {
    const name = p.tier === 'default' ? `p${i}` : `first.p${i}`;
    const spec: Record<string, unknown> = { tier: p.tier, order: p.order, selector: p.selector, ingress: rulesOf(p.ingress, 'ingress') };
    if (p.preDNAT) Object.assign(spec, { preDNAT: true, applyOnForward: true, types: ['Ingress'] });
    else {
      spec.egress = rulesOf(p.egress, 'egress');
      if (p.ingress.length + p.egress.length === 0) spec.types = ['Ingress', 'Egress'];
    }
    docs.push({ kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
  });
  return stateOf(...docs);
}

describe.skipIf(!isRoot)(`differential: simulator verdicts equal kernel delivery (${RUNS} random cases, needs root)`, () => {
  const pair = useProbePair(SUBNET, CLIENTS, SERVER, PORTS);

  it('agrees on every packet', async () => {
    const { net, client, server } = pair;
    const nft = netnsNft(net.server);
    const facts = { node: 'server', interfaces: [{ name: net.serverIf, addresses: [`${SERVER}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] };
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const program = compileHost(stateFor(c, net.serverIf), facts);
        const r = await nft.run(['-f', '-'], renderNft(program));
        expect(r.stderr).toBe('');
        const ingress = c.probes.filter((p) => !p.egress && p.proto !== 'icmp');
        const egress = c.probes.filter((p) => p.egress && p.proto !== 'icmp');
        const echo = c.probes.filter((p) => p.proto === 'icmp');
        const [inResults, outResults, echoResults] = await Promise.all([
          client.probe(ingress.map((p): AgentProbe => ({ proto: p.proto as AgentProbe['proto'], from: p.client, host: SERVER, port: p.port })), TIMEOUT_MS),
          server.probe(egress.map((p): AgentProbe => ({ proto: p.proto as AgentProbe['proto'], from: SERVER, host: p.client, port: p.port })), TIMEOUT_MS),
          Promise.all(echo.map((p) => (p.egress ? ping(net.server, p.client, TIMEOUT_MS / 1000, SERVER) : ping(net.client, SERVER, TIMEOUT_MS / 1000, p.client)))),
        ]);
        const kernel = [...inResults, ...outResults, ...echoResults];
        const simulated = [...ingress, ...egress, ...echo].map((p) => {
          const [src, dst] = p.egress ? [SERVER, p.client] : [p.client, SERVER];
          const ports = p.proto === 'icmp' ? { icmpType: 8, icmpCode: 0 } : { sport: 40000, dport: p.port };
          const sim = simulate(program, { iface: net.serverIf, direction: p.egress ? 'egress' : 'ingress', proto: p.proto, src, dst, ...ports });
          return sim.verdict === 'allow';
        });
        expect(kernel).toEqual(simulated);
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
  }, 600_000);
});

/**
 * IPv6 and doNotTrack. Addresses are ULA inside the test namespaces (fd00:18:22::/64), with
 * static neighbours so neighbour discovery never meets the policy. doNotTrack needs two packets:
 * an untracked flow leaves no conntrack entry, so its reply is judged as a new packet in the
 * other direction (first by untracked policy in raw, then, if that gives no verdict, by normal
 * policy); a tracked flow's reply is established, and only an untracked Deny can stop it. Probes
 * of cases with untracked policy are UDP, whose replies conntrack takes as new flows (a TCP
 * SYN-ACK without its SYN is INVALID, which Calico drops by design).
 */
const SUBNET6 = 22;
const V4 = { clients: [`198.18.${SUBNET6}.1`, `198.18.${SUBNET6}.3`, `198.18.${SUBNET6}.5`], server: `198.18.${SUBNET6}.2` };
const V6 = { clients: [`fd00:18:${SUBNET6}::1`, `fd00:18:${SUBNET6}::3`, `fd00:18:${SUBNET6}::5`], server: `fd00:18:${SUBNET6}::2` };
const V4_NETS_22 = [`198.18.${SUBNET6}.0/24`, `198.18.${SUBNET6}.1/32`, `198.18.${SUBNET6}.4/30`, '10.0.0.0/8'];
const V6_NETS = [`fd00:18:${SUBNET6}::/64`, `fd00:18:${SUBNET6}::1/128`, `fd00:18:${SUBNET6}::4/126`, 'fd00:99::/32'];
const dualRuleArb = fc.oneof(ruleOf(peerOf(V4_NETS_22), ['TCP', 'UDP', 6, '17']), ruleOf(peerOf(V6_NETS), ['TCP', 'UDP', 6, '17']));
const dualPolicyArb = fc.record({
  mode: fc.constantFrom('normal', 'normal', 'untracked', 'untracked', 'prednat'),
  tier: fc.constantFrom('default', 'default', 'first'),
  order: fc.option(fc.constantFrom(1, 2, 5), { nil: null }),
  selector: fc.constantFrom('all()', "role == 'srv'", "role == 'other'"),
  ingress: fc.array(dualRuleArb, { maxLength: 3 }),
  egress: fc.array(dualRuleArb, { maxLength: 2 }),
});
const dualCaseArb = fc.record({
  policies: fc.array(dualPolicyArb, { maxLength: 3 }),
  /**
   * Random untracked rules mostly deny by accident: this untracked policy allows UDP to and from
   * port 1002 in the directions drawn, with or without the replies, so both branches of the
   * two-packet oracle are met.
   */
  untrackedService: fc.option(fc.record({ order: fc.constantFrom(0, 3), inbound: fc.boolean(), outbound: fc.boolean(), replies: fc.boolean() }), { nil: undefined }),
  firstTierPass: fc.boolean(),
  failsafe: fc.constantFrom('default', 'none'),
  probes: fc.array(
    fc.record({ egress: fc.boolean(), family: fc.constantFrom(4 as const, 6 as const, 6 as const), proto: fc.constantFrom('tcp' as const, 'udp' as const), client: fc.nat(2), port: fc.constantFrom(...PORTS, 1002, 1002) }),
    { minLength: 1, maxLength: 4 },
  ),
});
type DualCase = typeof dualCaseArb extends fc.Arbitrary<infer T> ? T : never;

function dualStateFor(c: DualCase, serverIf: string) {
  const docs: Record<string, unknown>[] = [
    { kind: 'HostEndpoint', metadata: { name: 'srv', labels: { role: 'srv' } }, spec: { node: 'server', interfaceName: serverIf, expectedIPs: [V4.server, V6.server] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'grp-a', labels: { grp: 'a' } }, spec: { nets: [`${V4.clients[1]}/32`, `${V6.clients[1]}/128`] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'grp-b', labels: { grp: 'b' } }, spec: { nets: [`198.18.${SUBNET6}.4/31`, `fd00:18:${SUBNET6}::4/127`, 'fd00:99::/48'] } },
    { kind: 'Tier', metadata: { name: 'first' }, spec: { order: 10, defaultAction: c.firstTierPass ? 'Pass' : 'Deny' } },
  ];
  if (c.failsafe === 'none') docs.push({ kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] } });
  const rulesOf = (rules: DualCase['policies'][number]['ingress'], direction: 'ingress' | 'egress') =>
    rules.map((r) => (direction === 'ingress' ? { ...r.rule, source: r.peer, destination: r.local } : { ...r.rule, destination: { ...r.peer, ...r.local } }));
  c.policies.forEach((p, i) => {
    const name = p.tier === 'default' ? `p${i}` : `first.p${i}`;
    const spec: Record<string, unknown> = { tier: p.tier, order: p.order, selector: p.selector, ingress: rulesOf(p.ingress, 'ingress') };
    if (p.mode === 'prednat') Object.assign(spec, { preDNAT: true, applyOnForward: true, types: ['Ingress'] });
    else {
      spec.egress = rulesOf(p.egress, 'egress');
      spec.types = ['Ingress', 'Egress'];
      if (p.mode === 'untracked') Object.assign(spec, { doNotTrack: true, applyOnForward: true });
    }
    docs.push({ kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
  });
  const svc = c.untrackedService;
  if (svc) {
    const to = { action: 'Allow', protocol: 'UDP', destination: { ports: [1002] } };
    const from = { action: 'Allow', protocol: 'UDP', source: { ports: [1002] } };
    const ingress = [...(svc.inbound ? [to] : []), ...(svc.outbound && svc.replies ? [from] : [])];
    const egress = [...(svc.outbound ? [to] : []), ...(svc.inbound && svc.replies ? [from] : [])];
    docs.push({ kind: 'GlobalNetworkPolicy', metadata: { name: 'untracked-svc' }, spec: { order: svc.order, selector: 'all()', doNotTrack: true, applyOnForward: true, types: ['Ingress', 'Egress'], ingress, egress } });
  }
  return stateOf(...docs);
}

const decidedIn = (sim: Simulation) => sim.path[sim.path.length - 1]?.stage;

/** How often each branch of the oracle was taken, so the test proves it exercised them. */
const branches = { untrackedAllowed: 0, untrackedReplyDenied: 0 };

/** The two-packet oracle: does the exchange (first packet, then its reply) complete? */
function exchangeCompletes(program: Parameters<typeof simulate>[0], first: Packet): boolean {
  const s1 = simulate(program, first);
  if (s1.verdict !== 'allow') return false;
  if (decidedIn(s1) === 'untracked') branches.untrackedAllowed++;
  const reply: Packet = { ...first, direction: first.direction === 'ingress' ? 'egress' : 'ingress', src: first.dst, dst: first.src, sport: first.dport!, dport: first.sport! };
  const s2 = simulate(program, reply);
  // Untracked first packet: no conntrack entry, the reply is a new packet.
  if (decidedIn(s1) === 'untracked') {
    if (s2.verdict !== 'allow') branches.untrackedReplyDenied++;
    return s2.verdict === 'allow';
  }
  // Tracked: the reply is established; only untracked policy (raw, before conntrack) can drop it.
  return !(s2.verdict === 'deny' && decidedIn(s2) === 'untracked');
}

describe.skipIf(!isRoot)(`differential: IPv6 and doNotTrack, two packets per exchange (${RUNS_EXTRA} random cases, needs root)`, () => {
  let net: VethPair;
  let client: ProbeAgent;
  let server: ProbeAgent;

  beforeAll(async () => {
    net = await createVethPair(SUBNET6);
    for (const extra of V4.clients.slice(1)) await sh('ip', ['netns', 'exec', net.client, 'ip', 'addr', 'add', `${extra}/24`, 'dev', net.clientIf]);
    await addIpv6(net, V6.clients, V6.server);
    client = await startAgent(net.client, [...V4.clients, ...V6.clients], PORTS, PORTS);
    server = await startAgent(net.server, [V4.server, V6.server], PORTS, PORTS);
  });
  afterAll(async () => {
    client?.stop();
    server?.stop();
    await net?.destroy();
  });

  it('agrees on every exchange', async () => {
    const nft = netnsNft(net.server);
    const facts = { node: 'server', interfaces: [{ name: net.serverIf, addresses: [`${V4.server}/24`, `${V6.server}/64`] }, { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'] }] };
    let untrackedCases = 0;
    let v6Probes = 0;
    await fc.assert(
      fc.asyncProperty(dualCaseArb, async (c) => {
        const program = compileHost(dualStateFor(c, net.serverIf), facts);
        const r = await nft.run(['-f', '-'], renderNft(program));
        expect(r.stderr).toBe('');
        const untracked = c.untrackedService !== undefined || c.policies.some((p) => p.mode === 'untracked');
        if (untracked) untrackedCases++;
        const probes = c.probes.map((p) => ({ ...p, proto: untracked ? ('udp' as const) : p.proto }));
        v6Probes += probes.filter((p) => p.family === 6).length;
        const addr = (p: (typeof probes)[number]) => (p.family === 4 ? { client: V4.clients[p.client]!, server: V4.server } : { client: V6.clients[p.client]!, server: V6.server });
        const ingress = probes.filter((p) => !p.egress);
        const egress = probes.filter((p) => p.egress);
        const [inResults, outResults] = await Promise.all([
          client.probe(ingress.map((p): AgentProbe => ({ proto: p.proto, from: addr(p).client, host: addr(p).server, port: p.port })), TIMEOUT_MS),
          server.probe(egress.map((p): AgentProbe => ({ proto: p.proto, from: addr(p).server, host: addr(p).client, port: p.port })), TIMEOUT_MS),
        ]);
        const simulated = [...ingress, ...egress].map((p) => {
          const { client: peer, server: local } = addr(p);
          const [src, dst] = p.egress ? [local, peer] : [peer, local];
          return exchangeCompletes(program, { iface: net.serverIf, direction: p.egress ? 'egress' : 'ingress', proto: p.proto, src, dst, sport: 40000, dport: p.port });
        });
        expect([...inResults, ...outResults]).toEqual(simulated);
      }),
      { numRuns: RUNS_EXTRA, endOnFailure: true },
    );
    // The generator must really have exercised both classes.
    expect(untrackedCases).toBeGreaterThan(0);
    expect(v6Probes).toBeGreaterThan(0);
    // Both branches of the untracked oracle were met (a reply allowed, a reply dropped).
    if (RUNS_EXTRA >= 50) expect([branches.untrackedAllowed > branches.untrackedReplyDenied, branches.untrackedReplyDenied > 0]).toEqual([true, true]);
  }, 600_000);
});

/**
 * Forwarded traffic: a router namespace with two interfaces (forwarding on, inside namespaces
 * only) and a host endpoint on each; applyOnForward and preDNAT policies; TCP, UDP and ICMP from
 * the client to the server and back through the router. Forwarded packets never meet normal
 * policy or failsafes; a direction without applyOnForward policy is not policed (`no-policy`).
 */
const LEFT = 23;
const RIGHT = 24;
const FWD_NETS = [`198.18.${LEFT}.0/24`, `198.18.${LEFT}.1/32`, `198.18.${RIGHT}.0/24`, `198.18.${RIGHT}.2/32`, '10.0.0.0/8'];
const fwdRuleArb = ruleOf(peerOf(FWD_NETS), ['TCP', 'UDP', 6, '17', 'ICMP', 1]);
const fwdPolicyArb = fc.record({
  preDNAT: fc.constantFrom(false, false, false, true),
  tier: fc.constantFrom('default', 'default', 'first'),
  order: fc.option(fc.constantFrom(1, 2, 5), { nil: null }),
  selector: fc.constantFrom('all()', "side == 'left'", "side == 'right'"),
  ingress: fc.array(fwdRuleArb, { maxLength: 3 }),
  egress: fc.array(fwdRuleArb, { maxLength: 2 }),
});
const fwdCaseArb = fc.record({
  policies: fc.array(fwdPolicyArb, { maxLength: 3 }),
  firstTierPass: fc.boolean(),
  probes: fc.array(fc.record({ reverse: fc.boolean(), proto: fc.constantFrom('tcp' as const, 'udp' as const, 'icmp' as const), port: fc.constantFrom(...PORTS) }), { minLength: 1, maxLength: 4 }),
});
type FwdCase = typeof fwdCaseArb extends fc.Arbitrary<infer T> ? T : never;

function fwdStateFor(c: FwdCase, net: RoutedNet) {
  const docs: Record<string, unknown>[] = [
    { kind: 'HostEndpoint', metadata: { name: 'left', labels: { side: 'left' } }, spec: { node: 'router', interfaceName: net.leftIf, expectedIPs: [net.routerLeft] } },
    { kind: 'HostEndpoint', metadata: { name: 'right', labels: { side: 'right' } }, spec: { node: 'router', interfaceName: net.rightIf, expectedIPs: [net.routerRight] } },
    { kind: 'Tier', metadata: { name: 'first' }, spec: { order: 10, defaultAction: c.firstTierPass ? 'Pass' : 'Deny' } },
  ];
  const rulesOf = (rules: FwdCase['policies'][number]['ingress'], direction: 'ingress' | 'egress') =>
    rules.map((r) => (direction === 'ingress' ? { ...r.rule, source: r.peer, destination: r.local } : { ...r.rule, destination: { ...r.peer, ...r.local } }));
  c.policies.forEach((p, i) => {
    const name = p.tier === 'default' ? `p${i}` : `first.p${i}`;
    const spec: Record<string, unknown> = { tier: p.tier, order: p.order, selector: p.selector, applyOnForward: true, ingress: rulesOf(p.ingress, 'ingress') };
    if (p.preDNAT) Object.assign(spec, { preDNAT: true, types: ['Ingress'] });
    else Object.assign(spec, { egress: rulesOf(p.egress, 'egress'), types: ['Ingress', 'Egress'] });
    docs.push({ kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
  });
  return stateOf(...docs);
}

describe.skipIf(!isRoot)(`differential: forwarded traffic through a router namespace (${RUNS_EXTRA} random cases, needs root)`, () => {
  let net: RoutedNet;
  let client: ProbeAgent;
  let server: ProbeAgent;

  beforeAll(async () => {
    net = await createRoutedNet(LEFT, RIGHT);
    client = await startAgent(net.client, [net.clientAddr], PORTS, PORTS);
    server = await startAgent(net.server, [net.serverAddr], PORTS, PORTS);
  });
  afterAll(async () => {
    client?.stop();
    server?.stop();
    await net?.destroy();
  });

  it('agrees on every forwarded flow', async () => {
    const nft = netnsNft(net.router);
    const facts = { node: 'router', interfaces: [{ name: net.leftIf, addresses: [`${net.routerLeft}/24`] }, { name: net.rightIf, addresses: [`${net.routerRight}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] };
    await fc.assert(
      fc.asyncProperty(fwdCaseArb, async (c) => {
        const program = compileHost(fwdStateFor(c, net), facts);
        const r = await nft.run(['-f', '-'], renderNft(program));
        expect(r.stderr).toBe('');
        const sockets = c.probes.filter((p) => p.proto !== 'icmp');
        const forward = sockets.filter((p) => !p.reverse);
        const back = sockets.filter((p) => p.reverse);
        const echo = c.probes.filter((p) => p.proto === 'icmp');
        const [fwdResults, backResults, echoResults] = await Promise.all([
          client.probe(forward.map((p): AgentProbe => ({ proto: p.proto as AgentProbe['proto'], from: net.clientAddr, host: net.serverAddr, port: p.port })), TIMEOUT_MS),
          server.probe(back.map((p): AgentProbe => ({ proto: p.proto as AgentProbe['proto'], from: net.serverAddr, host: net.clientAddr, port: p.port })), TIMEOUT_MS),
          Promise.all(echo.map((p) => (p.reverse ? ping(net.server, net.clientAddr, TIMEOUT_MS / 1000, net.serverAddr) : ping(net.client, net.serverAddr, TIMEOUT_MS / 1000, net.clientAddr)))),
        ]);
        const simulated = [...forward, ...back, ...echo].map((p) => {
          const [iface, forwardTo, src, dst] = p.reverse ? [net.rightIf, net.leftIf, net.serverAddr, net.clientAddr] : [net.leftIf, net.rightIf, net.clientAddr, net.serverAddr];
          const ports = p.proto === 'icmp' ? { icmpType: 8, icmpCode: 0 } : { sport: 40000, dport: p.port };
          return simulate(program, { iface, direction: 'ingress', forwardTo, proto: p.proto, src, dst, ...ports }).verdict !== 'deny';
        });
        expect([...fwdResults, ...backResults, ...echoResults]).toEqual(simulated);
      }),
      { numRuns: RUNS_EXTRA, endOnFailure: true },
    );
  }, 600_000);
});
