import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { applyRuleset, checkDrift, netnsNft, NftError, readTable, renderNft, restoreRuleset } from '../../src/dataplane/index.js';
import { simulate } from '../../src/simulator/index.js';
import { createVethPair, isRoot, ping, probe, startServer, type VethPair } from '../support/netns.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

describe.skipIf(!isRoot)('kernel: rendered ruleset applied in a network namespace (needs root)', () => {
  let net: VethPair;
  let server: { stop(): void } | undefined;

  beforeAll(async () => {
    net = await createVethPair(7);
    server = await startServer(net.server, net.serverAddr, [22, 8080, 8081]);
  });
  afterAll(async () => {
    server?.stop();
    await net?.destroy();
  });

  const programFor = (v: VethPair) =>
    compileHost(
      stateOf(
        hep('server-veth', { node: 'server', interfaceName: v.serverIf, expectedIPs: [v.serverAddr] }, { role: 'server' }),
        gnp('allow-8080', {
          order: 10,
          selector: "role == 'server'",
          ingress: [{ action: 'Allow', protocol: 'TCP', source: { nets: [`${v.clientAddr}/32`] }, destination: { ports: [8080] } }],
          egress: [{ action: 'Allow' }],
        }),
      ),
      { node: 'server', interfaces: [{ name: v.serverIf, addresses: [`${v.serverAddr}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] },
    );

  it('allows what policy allows, drops the rest, keeps failsafe ports open; the simulator agrees', async () => {
    const program = programFor(net);
    const nft = netnsNft(net.server);
    const result = await applyRuleset(nft, renderNft(program));
    expect(result.previous).toBe('absent');
    const ports = [8080, 8081, 22];
    const kernel = await probe(net.client, ports.map((port) => ({ proto: 'tcp', host: net.serverAddr, port })));
    const sim = ports.map(
      (dport) => simulate(program, { iface: net.serverIf, direction: 'ingress', proto: 'tcp', src: net.clientAddr, dst: net.serverAddr, sport: 40000, dport }).verdict === 'allow',
    );
    expect(kernel).toEqual([true, false, true]);
    expect(sim).toEqual(kernel);
  });

  it('restores the previous state: "absent" removes the table', async () => {
    const nft = netnsNft(net.server);
    const { previous } = await applyRuleset(nft, renderNft(programFor(net)));
    await restoreRuleset(nft, 'absent');
    expect(await readTable(nft)).toBe('absent');
    expect(await probe(net.client, [{ proto: 'tcp', host: net.serverAddr, port: 8081 }])).toEqual([true]);
    if (previous !== 'absent') {
      await restoreRuleset(nft, previous);
      expect(await readTable(nft)).toBe(previous);
    }
  });

  it('a ruleset nft rejects leaves the host exactly as it was, with nft stderr in a typed error', async () => {
    const nft = netnsNft(net.server);
    const { applied } = await applyRuleset(nft, renderNft(programFor(net)));
    const broken = `${renderNft(programFor(net)).replace(/\n}\n$/, '\n')}\tchain bad {\n\t\tjump does-not-exist\n\t}\n}\n`;
    const err = await applyRuleset(nft, broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NftError);
    expect((err as NftError).code).toBe('NFT_CHECK_FAILED');
    expect((err as NftError).stderr).toMatch(/does-not-exist|No such file/);
    expect(await readTable(nft)).toBe(applied);
  });

  // Calico's nftables dataplane renders notICMP as `icmp type != T code != C`
  // (felix/nftables/match_builder.go:453). nft 1.0.6 compiles that into one 2-byte comparison, so
  // the (type, code) pair is negated (checked here with Felix's own text, below); and an ICMP
  // header match only ever matches ICMP packets, unlike the old `l4proto != icmp` alternative.
  it('notICMP negates the (type, code) pair and never matches non-ICMP packets (nftables semantics); the kernel agrees with the simulator', async () => {
    const nft = netnsNft(net.server);
    const facts = { node: 'server', interfaces: [{ name: net.serverIf, addresses: [`${net.serverAddr}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] };
    const compile = (rule: Record<string, unknown>) =>
      compileHost(
        stateOf(
          hep('server-veth', { node: 'server', interfaceName: net.serverIf, expectedIPs: [net.serverAddr] }, { role: 'server' }),
          gnp('ping-but-not', { selector: "role == 'server'", ingress: [rule], egress: [{ action: 'Allow' }] }),
          { kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] } },
        ),
        facts,
      );
    const results: boolean[] = [];
    const simulated: boolean[] = [];
    for (const notICMP of [{ type: 8, code: 0 }, { type: 8, code: 1 }, { type: 0 }, { type: 8 }]) {
      const program = compile({ action: 'Allow', protocol: 'ICMP', notICMP });
      await applyRuleset(nft, renderNft(program));
      const kernel = await ping(net.client, net.serverAddr, 0.5);
      const sim = simulate(program, { iface: net.serverIf, direction: 'ingress', proto: 'icmp', src: net.clientAddr, dst: net.serverAddr, icmpType: 8, icmpCode: 0 });
      results.push(kernel);
      simulated.push(sim.verdict === 'allow');
    }
    expect(results).toEqual(simulated);
    // An echo request is type 8 code 0.
    expect(results).toEqual([false, true, true, false]);
    // Felix's own nftables text for {8, 1} behaves the same: nft merges the two comparisons.
    const felixText = renderNft(compile({ action: 'Allow', protocol: 'ICMP', notICMP: { type: 8, code: 1 } })).replace(/icmp type \. icmp code != \{ 8 \. 1 \}/, 'icmp type != 8 icmp code != 1');
    expect(felixText).toContain('icmp type != 8 icmp code != 1');
    await applyRuleset(nft, felixText);
    expect(await ping(net.client, net.serverAddr, 0.5)).toBe(true);
    // No protocol: a TCP connect is not an ICMP packet, so the rule does not match it.
    const program = compile({ action: 'Allow', notICMP: { type: 0 } });
    await applyRuleset(nft, renderNft(program));
    const [tcp] = await probe(net.client, [{ proto: 'tcp', host: net.serverAddr, port: 22 }], 500);
    const sim = simulate(program, { iface: net.serverIf, direction: 'ingress', proto: 'tcp', src: net.clientAddr, dst: net.serverAddr, sport: 40000, dport: 22 });
    expect(sim.verdict).toBe('deny');
    expect(tcp).toBe(false);
  });

  it('notices a hand edit as drift, and restoring the desired ruleset clears it', async () => {
    const nft = netnsNft(net.server);
    const text = renderNft(programFor(net));
    const { applied } = await applyRuleset(nft, text);
    expect((await checkDrift(nft, applied)).drifted).toBe(false);
    const edit = await nft.run(['insert', 'rule', 'inet', 'palisade', 'filter-input', 'accept']);
    expect(edit.code).toBe(0);
    expect((await checkDrift(nft, applied)).drifted).toBe(true);
    const again = await applyRuleset(nft, text);
    expect((await checkDrift(nft, again.applied)).drifted).toBe(false);
    expect(again.applied).toBe(applied);
  });
});
