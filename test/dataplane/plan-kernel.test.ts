import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import type { HostFacts } from '../../src/compiler/ir.js';
import { netnsNft, renderNft } from '../../src/dataplane/index.js';
import { diffContext } from '../../src/headerspace/diff.js';
import { boxHas, packetPoint } from '../../src/headerspace/packet.js';
import { simulate, type Packet } from '../../src/simulator/index.js';
import { isRoot, ping } from '../support/netns.js';
import { useProbePair, type AgentProbe } from '../support/probe-agent.js';
import { stateOf } from '../support/policy-fixtures.js';
import { docsOf, revisionPairArb, type Repo } from '../support/random-repo.js';

/**
 * The exact plan against the kernel: random revision pairs (test/support/random-repo.ts) applied
 * for real, one after the other, in a namespace; real TCP connects, UDP exchanges and pings across
 * veth both ways. A probe's delivery differs between the two rulesets iff the plan reports a box
 * holding its packet whose verdict turns between deny and not deny. Single-packet oracle only:
 * doNotTrack and forwarded traffic (and rules on the peer's ephemeral source port) are left to
 * the simulator property test, the kernel harness of test/dataplane/differential.test.ts covers them.
 */
const PAIRS = Number(process.env.PALISADE_PLAN_KERNEL_PAIRS ?? 8);
const SUBNET = 21;
const CLIENTS = [`198.18.${SUBNET}.1`, `198.18.${SUBNET}.3`, `198.18.${SUBNET}.5`];
const SERVER = `198.18.${SUBNET}.2`;
const PORTS = [22, 53, 80, 443, 1000, 1500, 8080];
const TIMEOUT_MS = 150;

/** Only what one first packet decides, on the veth's interface name. */
function kernelDocs(r: Repo, serverIf: string): Record<string, unknown>[] {
  const repo = { ...r, policies: r.policies.filter((p) => p.kind === 'normal' || p.kind === 'preDNAT') };
  return docsOf(repo).map((d) => {
    const spec = d.spec as Record<string, unknown>;
    if (d.kind === 'HostEndpoint' && spec.interfaceName === 'eth0') return { ...d, spec: { ...spec, interfaceName: serverIf } };
    if (d.kind !== 'GlobalNetworkPolicy' && d.kind !== 'Profile') return d;
    const strip = (rules: unknown) => (Array.isArray(rules) ? rules.map((x: Record<string, unknown>) => ({ ...x, source: { ...(x.source as object), ports: undefined } })) : rules);
    return { ...d, spec: { ...spec, ingress: strip(spec.ingress), egress: strip(spec.egress) } };
  });
}

describe.skipIf(!isRoot)(`plan vs kernel: delivery changes exactly inside the reported boxes (${PAIRS} revision pairs, needs root)`, () => {
  const pair = useProbePair(SUBNET, CLIENTS, SERVER, PORTS);

  it('agrees on every probe', async () => {
    const { net, client, server } = pair;
    const nft = netnsNft(net.server);
    const facts: HostFacts = { node: 'server', interfaces: [{ name: net.serverIf, addresses: [`${SERVER}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] };
    const probes = [
      ...CLIENTS.flatMap((c) => PORTS.flatMap((port) => (['tcp', 'udp'] as const).map((proto) => ({ egress: false, proto, client: c, port })))),
      ...CLIENTS.slice(0, 2).flatMap((c) => PORTS.slice(0, 4).flatMap((port) => (['tcp', 'udp'] as const).map((proto) => ({ egress: true, proto, client: c, port })))),
      ...CLIENTS.flatMap((c) => [false, true].map((egress) => ({ egress, proto: 'icmp' as const, client: c, port: 0 }))),
    ];
    const packetOf = (p: (typeof probes)[number]): Packet => {
      const [src, dst] = p.egress ? [SERVER, p.client] : [p.client, SERVER];
      const fields = p.proto === 'icmp' ? { icmpType: 8, icmpCode: 0 } : { sport: 40000, dport: p.port };
      return { iface: net.serverIf, direction: p.egress ? 'egress' : 'ingress', proto: p.proto, src, dst, ...fields };
    };
    const deliver = async () => {
      const ingress = probes.filter((p) => !p.egress && p.proto !== 'icmp');
      const egress = probes.filter((p) => p.egress && p.proto !== 'icmp');
      const echo = probes.filter((p) => p.proto === 'icmp');
      const [a, b, c] = await Promise.all([
        client.probe(ingress.map((p): AgentProbe => ({ proto: p.proto as AgentProbe['proto'], from: p.client, host: SERVER, port: p.port })), TIMEOUT_MS),
        server.probe(egress.map((p): AgentProbe => ({ proto: p.proto as AgentProbe['proto'], from: SERVER, host: p.client, port: p.port })), TIMEOUT_MS),
        Promise.all(echo.map((p) => (p.egress ? ping(net.server, p.client, TIMEOUT_MS / 1000, SERVER) : ping(net.client, SERVER, TIMEOUT_MS / 1000, p.client)))),
      ]);
      const results = new Map<(typeof probes)[number], boolean>();
      [...ingress, ...egress, ...echo].forEach((p, i) => results.set(p, [...a, ...b, ...c][i]!));
      return probes.map((p) => results.get(p)!);
    };
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(revisionPairArb, async ([a, b]) => {
        const before = compileHost(stateOf(...kernelDocs(a, net.serverIf)), facts);
        const after = compileHost(stateOf(...kernelDocs(b, net.serverIf)), facts);
        const boxes = (['ingress', 'egress'] as const).flatMap((direction) => diffContext(before, after, { iface: net.serverIf, direction }, 4));
        const predicted = probes.map((p) => {
          const pkt = packetOf(p);
          const { point } = packetPoint(pkt);
          return boxes.some((d) => d.context.direction === pkt.direction && boxHas(d.box, point) && (d.before === 'deny') !== (d.after === 'deny'));
        });
        expect((await nft.run(['-f', '-'], renderNft(before))).stderr).toBe('');
        const was = await deliver();
        expect((await nft.run(['-f', '-'], renderNft(after))).stderr).toBe('');
        const now = await deliver();
        sent += 2 * probes.length;
        // The oracle first (so a disagreement is attributed): the kernel delivers what the simulator allows.
        expect(was).toEqual(probes.map((p) => simulate(before, packetOf(p)).verdict !== 'deny'));
        expect(now).toEqual(probes.map((p) => simulate(after, packetOf(p)).verdict !== 'deny'));
        expect(was.map((w, i) => w !== now[i])).toEqual(predicted);
      }),
      { numRuns: PAIRS, endOnFailure: true },
    );
    expect(sent).toBeGreaterThanOrEqual(PAIRS * 2 * probes.length);
  }, 600_000);
});
