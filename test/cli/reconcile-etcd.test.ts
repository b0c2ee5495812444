import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
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

/** `palisade reconcile --store …` left running; stopped (SIGTERM, then SIGKILL) by the caller. */
function reconcileServing(args: string[]): { child: ChildProcess; output: () => string; stop(): Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d));
  child.stderr!.on('data', (d: Buffer) => (output += d));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

async function simulatedSetup(dir: string) {
  const repo = await TestRepo.create(path.join(dir, 'repo'));
  await repo.commit({ 'palisade.yaml': 'checkAttempts: 1\n', 'hosts.yaml': hostEndpoints(['node-a']) }, 'one host');
  const hostsFile = path.join(dir, 'hosts.json');
  await writeFile(hostsFile, JSON.stringify({ management: { address: '198.18.0.1' }, hosts: [{ kind: 'simulated', name: 'node-a', address: '198.18.0.11', interfaces: [{ name: 'eth0', addresses: ['198.18.0.11'] }] }] }));
  return { repo, hostsFile };
}

const count = (text: string, event: string) => text.split('\n').filter((l) => l.includes(`"event":"${event}"`)).length;

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

// After the tests above: these leave their own revisions in the shared etcd log.
describe('palisade reconcile --store etcd:// across leader terms', () => {
  it('creates a --state directory that does not exist, and leads once', { timeout: 40_000 }, async () => {
    const dir = await tmp('palisade-reconcile-etcd-');
    const { repo, hostsFile } = await simulatedSetup(dir);
    const state = path.join(dir, 'not', 'yet', 'state');
    const port = await freePort();
    const run = reconcileServing(['--repo', repo.dir, '--state', state, '--hosts', hostsFile, '--store', etcd.localStoreUrl, '--listen', `127.0.0.1:${port}`, '--poll-interval', '200']);
    try {
      const deadline = Date.now() + 20_000;
      while (!existsSync(path.join(state, 'http.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(path.join(state, 'http.json')), run.output()).toBe(true);
      expect(JSON.parse(await readFile(path.join(state, 'http.json'), 'utf8'))).toMatchObject({ url: `http://127.0.0.1:${port}` });
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 2000));
      expect(count(run.output(), 'LeaderElected'), run.output()).toBe(1);
      expect(count(run.output(), 'LeaderTermFailed'), run.output()).toBe(0);
    } finally {
      await run.stop();
    }
  });

  it('closes what a failed leader term opened, so the next term does not collide with it', { timeout: 40_000 }, async () => {
    const dir = await tmp('palisade-reconcile-etcd-');
    const { repo, hostsFile } = await simulatedSetup(dir);
    const state = path.join(dir, 'state');
    // http.json cannot be written (a directory stands in its place): every term fails after its listener is up.
    await mkdir(path.join(state, 'http.json'), { recursive: true });
    const port = await freePort();
    const run = reconcileServing(['--repo', repo.dir, '--state', state, '--hosts', hostsFile, '--store', etcd.localStoreUrl, '--listen', `127.0.0.1:${port}`, '--poll-interval', '200']);
    try {
      const deadline = Date.now() + 20_000;
      while (count(run.output(), 'LeaderTermFailed') < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const output = run.output();
      expect(count(output, 'LeaderTermFailed'), output).toBeGreaterThanOrEqual(3);
      expect(output).toMatch(/EISDIR/);
      expect(output).not.toMatch(/EADDRINUSE/);
    } finally {
      await run.stop();
    }
    expect(await client.get(LEADER)).toBeNull();
  });
});
