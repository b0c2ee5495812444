import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { netnsNft, renderNft } from '../../src/dataplane/index.js';
import { simulate } from '../../src/simulator/index.js';
import { createVethPair, isRoot, ping, sh, type VethPair } from '../support/netns.js';
import { startAgent, type AgentProbe, type ProbeAgent } from '../support/probe-agent.js';
import { stateOf } from '../support/policy-fixtures.js';

/**
 * Simulator vs kernel: random policy sets (with preDNAT policies and ICMP rules), applied for real
 * in a namespace, and real TCP connects, UDP exchanges and ICMP echoes (iputils ping) across veth
 * in both directions. Every disagreement fails with fast-check's seed
 * and the shrunk policy set. PALISADE_DIFF_RUNS raises the number of cases (bench runs thousands).
 */
const RUNS = Number(process.env.PALISADE_DIFF_RUNS ?? 300);
const SUBNET = 21;
const CLIENTS = [`198.18.${SUBNET}.1`, `198.18.${SUBNET}.3`, `198.18.${SUBNET}.5`];
const SERVER = `198.18.${SUBNET}.2`;
const PORTS = [1001, 1002, 1003, 22];
const TIMEOUT_MS = 150;

const portsArb = fc.subarray(['1001', '1002', '1003', '1001:1002', '22'], { minLength: 1, maxLength: 2 });
const netsArb = fc.subarray([`198.18.${SUBNET}.0/24`, `198.18.${SUBNET}.1/32`, `198.18.${SUBNET}.4/30`, '10.0.0.0/8'], { minLength: 1, maxLength: 2 });
const selectorArb = fc.constantFrom("grp == 'a'", "grp == 'b'", 'has(grp)', "grp in {'a', 'b'}", "role == 'srv'");
const peerArb = fc.record(
  { nets: netsArb, notNets: netsArb, selector: selectorArb, notSelector: selectorArb },
  { requiredKeys: [] },
);
/** Echo request is type 8 code 0; type 0 (echo reply) never matches a ping's first packet. */
const icmpArb = fc.option(fc.constantFrom({ type: 8 }, { type: 8, code: 0 }, { type: 8, code: 1 }, { type: 0 }), { nil: undefined });
const ruleArb = fc
  .record({
    action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log', 'Allow'),
    protocol: fc.option(fc.constantFrom('TCP', 'UDP', 6, '17', 'ICMP', 1), { nil: undefined }),
    notProtocol: fc.option(fc.constantFrom('TCP', 'UDP', 'ICMP'), { nil: undefined }),
    peer: peerArb,
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
const policyArb = fc.record({
  /** preDNAT: ingress only, in mangle prerouting before the normal stage (doNotTrack is left out: see the README, "Compiler, nftables dataplane and packet simulator"). */
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
  let net: VethPair;
  let client: ProbeAgent;
  let server: ProbeAgent;

  beforeAll(async () => {
    net = await createVethPair(SUBNET);
    for (const extra of CLIENTS.slice(1)) await sh('ip', ['netns', 'exec', net.client, 'ip', 'addr', 'add', `${extra}/24`, 'dev', net.clientIf]);
    // Egress probes go from the server to listeners on the client.
    client = await startAgent(net.client, CLIENTS, PORTS, PORTS);
    server = await startAgent(net.server, [SERVER], PORTS, PORTS);
  });
  afterAll(async () => {
    client?.stop();
    server?.stop();
    await net?.destroy();
  });

  it('agrees on every packet', async () => {
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
