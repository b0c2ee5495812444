import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { EtcdEventStore } from '../../src/etcd/event-store.js';
import { BEFORE, LEADER } from '../../src/etcd/keys.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { TestRepo } from '../support/repo.js';
import { hostEndpoints, webPolicy } from '../support/rollout-lab.js';
import { useTmpDirs } from '../support/tmp.js';

/** `palisade reconcile --store etcd://…` as an operator runs it: the CLI's own etcd wiring. */
const tmp = useTmpDirs();
const HOSTS = ['node-a', 'node-b'];
let etcd: EtcdCluster;
let client: EtcdClient;

beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
});
afterAll(async () => {
  client?.close();
  await etcd?.close();
});

function reconcileOnce(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', ...args, '--once'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('palisade reconcile --store etcd://', () => {
  it('leads, keeps the event log in etcd, and cleans up its before-snapshots', async () => {
    const dir = await tmp('palisade-reconcile-etcd-');
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    const revision = await repo.commit({ 'palisade.yaml': 'checkAttempts: 1\n', 'hosts.yaml': hostEndpoints(HOSTS), 'web.yaml': webPolicy([80]) }, 'web');
    const hostsFile = path.join(dir, 'hosts.json');
    await writeFile(
      hostsFile,
      JSON.stringify({
        management: { address: '198.18.0.1' },
        hosts: HOSTS.map((name, i) => ({ kind: 'simulated', name, address: `198.18.0.${11 + i}`, interfaces: [{ name: 'eth0', addresses: [`198.18.0.${11 + i}`] }] })),
      }),
    );
    const run = await reconcileOnce(['--repo', repo.dir, '--state', path.join(dir, 'state'), '--hosts', hostsFile, '--store', etcd.localStoreUrl]);
    expect(run.code, run.output).toBe(0);

    const events = await new EtcdEventStore(client).read();
    expect(events.find((e) => e.type === 'RolloutFinished')).toMatchObject({ revision, outcome: 'completed', failedHosts: [] });
    const confirmed = events.filter((e) => e.type === 'HostTransition' && e.to === 'confirmed').map((e) => (e.type === 'HostTransition' ? e.host : ''));
    expect(confirmed.sort()).toEqual(HOSTS);
    // Agents' path to etcd is a failsafe check from every host in this mode.
    const checks = events.flatMap((e) => (e.type === 'HostTransition' && e.to === 'confirmed' ? (e.checks ?? []).map((c) => c.name) : []));
    expect(checks).toContain('path-to-feed');
    // The rollout ended: its before-snapshots in etcd are gone; the leader resigned.
    expect((await client.list(BEFORE)).kvs).toEqual([]);
    expect(await client.get(LEADER)).toBeNull();
  });

  it('says plainly when the store URL is wrong', async () => {
    const dir = await tmp('palisade-reconcile-etcd-');
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    await repo.commit({ 'hosts.yaml': hostEndpoints(['node-a']) }, 'one host');
    const hostsFile = path.join(dir, 'hosts.json');
    await writeFile(hostsFile, JSON.stringify({ management: { address: '198.18.0.1' }, hosts: [{ kind: 'simulated', name: 'node-a', address: '198.18.0.11', interfaces: [] }] }));
    const run = await reconcileOnce(['--repo', repo.dir, '--state', path.join(dir, 'state'), '--hosts', hostsFile, '--store', 'etcd://no-port']);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/ETCD_URL_INVALID/);
  });
});
