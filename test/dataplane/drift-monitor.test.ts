import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { applyRuleset, createDriftMonitor, netnsNft, NftError, readTable, renderNft, type DriftDetails, type DriftHost } from '../../src/dataplane/index.js';
import { PalisadeEvent } from '../../src/eventlog/events.js';
import { createVethPair, isRoot, probe, sh, startServer, type VethPair } from '../support/netns.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

const SUBNET = 23;

describe('DriftDetected event', () => {
  it('is part of the event union, with host, details and restored', () => {
    const e = { seq: 1, time: '2026-01-01T00:00:00Z', version: 1, revision: 'abc', key: 'drift/n1/1', type: 'DriftDetected', host: 'n1', details: 'missing chain x', restored: true };
    expect(PalisadeEvent.parse(e)).toEqual(e);
    expect(() => PalisadeEvent.parse({ ...e, restored: 'yes' })).toThrow();
  });
});

describe('createDriftMonitor', () => {
  it('refuses an interval that would hammer nft', () => {
    expect(() => createDriftMonitor({ hosts: new Map(), intervalMs: 0, onDrift: () => undefined, onError: () => undefined })).toThrow(RangeError);
  });

  it('reports a host whose table cannot be read and carries on', async () => {
    const errors: [string, Error][] = [];
    const monitor = createDriftMonitor({
      hosts: new Map([['gone', { nft: netnsNft('palisade-no-such-netns'), desired: () => 'table inet palisade {\n}\n' }]]),
      intervalMs: 60_000,
      onDrift: () => expect.unreachable('no table was read, so no drift can be claimed'),
      onError: (host, e) => errors.push([host, e]),
    });
    await monitor.checkNow();
    await monitor.stop();
    expect(errors).toHaveLength(1);
    expect(errors[0]![0]).toBe('gone');
    expect((errors[0]![1] as NftError).code).toBe('NFT_READ_FAILED');
  });
});

describe.skipIf(!isRoot)('drift monitor in a network namespace (needs root)', () => {
  let net: VethPair;
  let server: { stop(): void } | undefined;
  let text: string;

  beforeAll(async () => {
    net = await createVethPair(SUBNET);
    server = await startServer(net.server, net.serverAddr, [8080, 8081]);
    const program = compileHost(
      stateOf(
        hep('srv', { node: 'server', interfaceName: net.serverIf, expectedIPs: [net.serverAddr] }, { role: 'server' }),
        gnp('allow-8080', { selector: "role == 'server'", ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } }], egress: [{ action: 'Allow' }] }),
      ),
      { node: 'server', interfaces: [{ name: net.serverIf, addresses: [`${net.serverAddr}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] },
    );
    text = renderNft(program);
  });
  afterAll(async () => {
    server?.stop();
    await net?.destroy();
  });

  const handEdit = (...rule: string[]) => sh('ip', ['netns', 'exec', net.server, 'nft', ...rule]);
  const reach8081 = async () => (await probe(net.client, [{ proto: 'tcp', host: net.serverAddr, port: 8081 }]))[0];

  function monitorOf(opts: { restore?: boolean; intervalMs?: number; desired?: () => string | null } = {}) {
    const drifts: [string, DriftDetails][] = [];
    const errors: Error[] = [];
    const host: DriftHost = { nft: netnsNft(net.server), desired: opts.desired ?? (() => text) };
    const monitor = createDriftMonitor({
      hosts: new Map([['server', host]]),
      intervalMs: opts.intervalMs ?? 60_000,
      onDrift: (h, d) => drifts.push([h, d]),
      onError: (_, e) => errors.push(e),
      ...(opts.restore !== undefined ? { restore: opts.restore } : {}),
    });
    return { monitor, drifts, errors };
  }

  it('notices a hand-added rule that carries no comment, calls back, and restores the desired table', async () => {
    const { applied } = await applyRuleset(netnsNft(net.server), text);
    const { monitor, drifts, errors } = monitorOf();
    await monitor.checkNow();
    expect(drifts).toEqual([]);

    await handEdit('insert', 'rule', 'inet', 'palisade', 'filter-input', 'tcp', 'dport', '8081', 'accept');
    expect(await reach8081()).toBe(true);
    await monitor.checkNow();
    await monitor.stop();

    expect(errors).toEqual([]);
    expect(drifts).toHaveLength(1);
    expect(drifts[0]![0]).toBe('server');
    expect(drifts[0]![1]).toMatchObject({ restored: true, difference: expect.stringMatching(/^line \d+: .*8081/) });
    expect(await readTable(netnsNft(net.server))).toBe(applied);
    expect(await reach8081()).toBe(false);
  });

  it('on its own timer, notices a flushed policy chain (baseline from noteApplied) and restores it', async () => {
    const { applied } = await applyRuleset(netnsNft(net.server), text);
    const { monitor, drifts } = monitorOf({ intervalMs: 150 });
    monitor.noteApplied('server', text, applied);
    await handEdit('flush', 'chain', 'inet', 'palisade', 'pi-allow-8080');
    const deadline = Date.now() + 10_000;
    while (drifts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await monitor.stop();
    expect(drifts.map(([, d]) => d)).toEqual([{ difference: 'chain pi-allow-8080 has different rules', restored: true }]);
    expect(await readTable(netnsNft(net.server))).toBe(applied);
  });

  it('restores a deleted table', async () => {
    const { applied } = await applyRuleset(netnsNft(net.server), text);
    const { monitor, drifts } = monitorOf();
    monitor.noteApplied('server', text, applied);
    await handEdit('delete', 'table', 'inet', 'palisade');
    await monitor.checkNow();
    await monitor.stop();
    expect(drifts.map(([, d]) => d)).toEqual([{ difference: 'the table is missing', restored: true }]);
    expect(await readTable(netnsNft(net.server))).toBe(applied);
  });

  it('with restore: false, reports drift and leaves the table as it found it', async () => {
    await applyRuleset(netnsNft(net.server), text);
    const { monitor, drifts } = monitorOf({ restore: false });
    await handEdit('add', 'chain', 'inet', 'palisade', 'intruder');
    await monitor.checkNow();
    await monitor.checkNow();
    await monitor.stop();
    expect(drifts.map(([, d]) => d)).toEqual([
      { difference: 'unexpected chain intruder', restored: false },
      { difference: 'unexpected chain intruder', restored: false },
    ]);
    expect(await readTable(netnsNft(net.server))).toMatch(/chain intruder/);
  });

  it('leaves a host alone while desired() is null (a rollout step in flight)', async () => {
    await handEdit('delete', 'table', 'inet', 'palisade').catch(() => undefined);
    const { monitor, drifts } = monitorOf({ desired: () => null });
    await monitor.checkNow();
    await monitor.stop();
    expect(drifts).toEqual([]);
    expect(await readTable(netnsNft(net.server))).toBe('absent');
  });
});
