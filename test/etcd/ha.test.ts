import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { EtcdEventStore } from '../../src/etcd/event-store.js';
import { LEADER } from '../../src/etcd/keys.js';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { fleetPolicy, hostNames, startCheckService, startFleetAgents, startReconcilerProcess, statuses, until, writeAgentHostsFile, type FleetAgent, type ReconcilerProcess } from '../support/fleet.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * Fault tests of the highly available reconciler: real etcd (one or three members), reconcilers
 * as separate processes (so a leader can be SIGKILLed), agents in-process with a memory dataplane.
 */

const tmp = useTmpDirs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Setup {
  etcd: EtcdCluster;
  client: EtcdClient;
  repo: TestRepo;
  agents: FleetAgent[];
  hosts: string[];
  startReconciler(): Promise<ReconcilerProcess>;
}

async function setup(members: 1 | 3, hostCount: number, applyDelayMs: number): Promise<Setup> {
  const etcd = await startEtcd({ members });
  cleanups.push(() => etcd.close());
  const endpoints = parseStoreUrl(etcd.localStoreUrl);
  const client = new EtcdClient(endpoints);
  cleanups.push(() => client.close());
  const dir = await tmp('palisade-ha-');
  const hosts = hostNames(hostCount);
  const repo = await TestRepo.create(join(dir, 'repo'));
  const hostsFile = join(dir, 'hosts.json');
  await writeAgentHostsFile(hostsFile, hosts);
  const service = await startCheckService();
  cleanups.push(() => service.close());
  const agents = await startFleetAgents(endpoints, hosts, join(dir, 'agents'), { applyDelayMs });
  cleanups.push(() => Promise.all(agents.map((a) => a.stop())).then(() => undefined));
  let n = 0;
  return {
    etcd,
    client,
    repo,
    agents,
    hosts,
    startReconciler: async () => {
      const r = startReconcilerProcess({ storeUrl: etcd.localStoreUrl, repo: repo.dir, hostsFile, stateDir: join(dir, `reconciler-${++n}`), checkPort: service.port });
      cleanups.push(() => r.kill());
      return r;
    },
  };
}

async function leaderId(client: EtcdClient): Promise<string | null> {
  const kv = await client.get(LEADER);
  return kv ? (JSON.parse(kv.value) as { id: string }).id : null;
}

const allConfirmed = (s: Setup) => async () => [...(await statuses(s.client, s.hosts)).values()].every((st) => st?.state === 'confirmed');

function expectGapFreeUnique(events: PalisadeEvent[]): void {
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
}

/** Six agent hosts, a commit, a leader and a standby, and the rollout under way: some hosts confirmed, not all. */
async function midRollout() {
  const s = await setup(1, 6, 400);
  const revision = await s.repo.commit(fleetPolicy(s.hosts), 'web for workers');
  const first = await s.startReconciler();
  const firstId = await until('a leader', () => leaderId(s.client));
  const second = await s.startReconciler();
  await until('two hosts confirmed', async () => [...(await statuses(s.client, s.hosts)).values()].filter((st) => st?.state === 'confirmed').length >= 2, 30_000, 20);
  return { s, revision, first, firstId, second };
}

describe('highly available reconciler on etcd', () => {
  it('the leader is killed mid-rollout: the standby finishes it, no host applied twice, no event lost or repeated', async () => {
    const { s, revision, first, firstId, second } = await midRollout();
    await first.kill();
    const t0 = Date.now();
    const secondId = await until('the standby to lead', async () => {
      const id = await leaderId(s.client);
      return id && id !== firstId ? id : null;
    }, 15_000, 50);
    const takeoverMs = Date.now() - t0;
    expect(secondId).not.toBe(firstId);
    expect(takeoverMs).toBeLessThan(10_000);
    await until('every host confirmed', allConfirmed(s), 40_000);
    for (const a of s.agents) expect({ host: a.node, applies: a.dataplane.applies }).toEqual({ host: a.node, applies: 1 });
    const store = new EtcdEventStore(s.client);
    const events = await until('the rollout to finish', async () => {
      const ev = await store.read();
      return ev.some((e) => e.type === 'RolloutFinished') ? ev : null;
    });
    expectGapFreeUnique(events);
    const finished = events.filter((e) => e.type === 'RolloutFinished');
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ revision, outcome: 'completed', failedHosts: [] });
    expect(events.filter((e) => e.type === 'RolloutStarted')).toHaveLength(1);
    expect(second.output()).toMatch(/LeaderElected/);
  }, 90_000);

  it('a leader frozen past its lease is deposed: on waking it stops at once, and its log holds only what the event log holds', async () => {
    const { s, revision, first, firstId, second } = await midRollout();
    // Frozen mid-rollout (a long GC pause, a stalled VM): its lease runs out and the standby leads.
    first.proc.kill('SIGSTOP');
    try {
      await until('the standby to lead', async () => {
        const id = await leaderId(s.client);
        return id && id !== firstId ? id : null;
      }, 15_000, 50);
    } finally {
      first.proc.kill('SIGCONT');
    }
    await until('the deposed leader to notice', async () => first.output().includes('"event":"LeadershipLost"'), 15_000, 20);
    await until('every host confirmed', allConfirmed(s), 40_000);
    const store = new EtcdEventStore(s.client);
    const events = await until('the rollout to finish', async () => {
      const ev = await store.read();
      return ev.some((e) => e.type === 'RolloutFinished') ? ev : null;
    });
    expectGapFreeUnique(events);
    expect(events.filter((e) => e.type === 'RolloutFinished')).toEqual([expect.objectContaining({ revision, outcome: 'completed', failedHosts: [] })]);
    for (const a of s.agents) expect({ host: a.node, applies: a.dataplane.applies }).toEqual({ host: a.node, applies: 1 });

    const lines = first.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event?: string; host?: string; from?: string; to?: string });
    const lostAt = lines.findIndex((l) => l.event === 'LeadershipLost');
    // Deposed, it says so and stops the rollout where it is: no host transition, no outcome after.
    expect(lines.slice(lostAt + 1).filter((l) => l.event === 'HostTransition' || l.event === 'RolloutFinished')).toEqual([]);
    expect(lines.slice(lostAt).some((l) => l.event === 'RolloutInterrupted')).toBe(true);
    // Every transition it logged is in the event log (a line is written once its event is durable).
    const recorded = events.filter((e) => e.type === 'HostTransition').map((e) => `${e.host} ${e.from}->${e.to}`);
    const logged = lines.filter((l) => l.event === 'HostTransition').map((l) => `${l.host} ${l.from}->${l.to}`);
    expect(logged.length).toBeGreaterThan(0);
    for (const t of new Set(logged)) expect({ t, times: logged.filter((x) => x === t).length }).toEqual({ t, times: Math.min(logged.filter((x) => x === t).length, recorded.filter((x) => x === t).length) });
    expect(lines.filter((l) => l.to === 'failed' || l.to === 'rollingBack')).toEqual([]);
    expect(second.output()).toMatch(/LeaderElected/);
    // What it says about the lost term names the cause, not a crash of its own.
    expect(first.output()).not.toMatch(/Cannot read properties|TypeError/);
    expect(lines.slice(lostAt).filter((l) => l.event === 'ReconcileFailed').map((l) => (l as { msg?: string }).msg)).toEqual(
      lines.slice(lostAt).filter((l) => l.event === 'ReconcileFailed').map(() => expect.stringMatching(/lease|leader/)),
    );
  }, 90_000);

  it('three members: one stopped, work continues; two stopped, the reconciler waits and says why; quorum back, it resumes and loses nothing', async () => {
    const s = await setup(3, 3, 0);
    const reconciler = await s.startReconciler();
    await s.repo.commit(fleetPolicy(s.hosts, 80), 'web');
    await until('first commit confirmed everywhere', allConfirmed(s), 30_000);

    await s.etcd.stop(0);
    const second = await s.repo.commit(fleetPolicy(s.hosts, 81), 'web on 81');
    const store = new EtcdEventStore(s.client);
    await until('second commit finished with one member down', async () => (await store.read()).some((e) => e.type === 'RolloutFinished' && e.revision === second), 40_000);

    await s.etcd.stop(1);
    const third = await s.repo.commit(fleetPolicy(s.hosts, 82), 'web on 82');
    await until('the reconciler to say why it waits', async () => /no quorum/.test(reconciler.output()), 30_000);
    await s.etcd.start(1);
    await until('third commit finished after quorum returned', async () => (await store.read().catch(() => [])).some((e) => e.type === 'RolloutFinished' && e.revision === third), 60_000, 250).catch((e: Error) => {
      throw new Error(`${e.message}\nreconciler output (tail):\n${reconciler.output().slice(-6000)}`);
    });
    const events = await store.read();
    expectGapFreeUnique(events);
    expect(events.filter((e) => e.type === 'RolloutFinished').map((e) => (e as { outcome: string }).outcome)).toEqual(['completed', 'completed', 'completed']);
    await until('all confirmed', allConfirmed(s), 20_000);
  }, 150_000);
});
