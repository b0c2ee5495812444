/**
 * `node --import tsx bench/etcd/agents.ts`: 50 in-process agents (in-memory dataplane) against
 * one real etcd member on loopback, driven by two HA reconciler processes.
 *
 *   baseline    etcd put → watch event latency (p50), measured first in the same run
 *   commit      Git commit → every agent reports the new ruleset confirmed (zero soak, one
 *               wave, concurrency 50), median of 3 commits
 *   failover    leader SIGKILLed → the standby holds the leader key (lease TTL 2 s)
 *
 * Targets (issue 8): commit ≤ 2 s, failover ≤ 5 s. Figures are printed as ratios to the baseline.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { LEADER } from '../../src/etcd/keys.js';
import { startEtcd } from '../../test/support/etcd.js';
import { fleetPolicy, hostNames, startCheckService, startFleetAgents, startReconcilerProcess, statuses, until, writeAgentHostsFile } from '../../test/support/fleet.js';
import { TestRepo } from '../../test/support/repo.js';

const AGENTS = 50;
const COMMITS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-etcd-'));
const etcd = await startEtcd();
const endpoints = parseStoreUrl(etcd.localStoreUrl);
const client = new EtcdClient(endpoints);
const cleanups: (() => Promise<unknown> | unknown)[] = [];
try {
  // Baseline: one put, observed through a watch, 200 times.
  const watcher = await client.client.watch().key('/bench/ping').create();
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const seen = new Promise<void>((r) => watcher.once('put', () => r()));
    const t0 = performance.now();
    await client.put('/bench/ping', String(i));
    await seen;
    samples.push(performance.now() - t0);
  }
  await watcher.cancel();
  const baseline = median(samples);

  const hosts = hostNames(AGENTS);
  const repo = await TestRepo.create(join(dir, 'repo'));
  await repo.commit({ ...fleetPolicy(hosts, 80), 'palisade.yaml': `waves:\n  - name: all\nsoak: 0s\nconcurrency: ${AGENTS}\n` }, 'initial');
  const hostsFile = join(dir, 'hosts.json');
  await writeAgentHostsFile(hostsFile, hosts);
  const service = await startCheckService();
  cleanups.push(() => service.close());
  const agents = await startFleetAgents(endpoints, hosts, join(dir, 'agents'));
  cleanups.push(() => Promise.all(agents.map((a) => a.stop())));
  const reconcilers = [1, 2].map((n) => startReconcilerProcess({ storeUrl: etcd.localStoreUrl, repo: repo.dir, hostsFile, stateDir: join(dir, `r${n}`), checkPort: service.port }));
  cleanups.push(() => Promise.all(reconcilers.map((r) => r.kill())));

  const confirmedAll = async (hash?: string) => {
    const s = await statuses(client, hosts);
    return [...s.values()].every((st) => st?.state === 'confirmed' && (hash === undefined || st.ruleset?.hash !== hash));
  };
  await until('the initial rollout', () => confirmedAll(), 120_000, 50);

  const commitMs: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const before = (await statuses(client, hosts)).get(hosts[0]!)?.ruleset?.hash;
    const t0 = performance.now();
    await repo.commit(fleetPolicy(hosts, 81 + i), `port ${81 + i}`);
    await until(`commit ${i + 1} confirmed everywhere`, () => confirmedAll(before), 60_000, 10);
    commitMs.push(performance.now() - t0);
  }

  const leader = JSON.parse((await client.get(LEADER))!.value) as { id: string };
  const victim = reconcilers.find((r) => leader.id.endsWith(`:${r.proc.pid}`))!;
  const t0 = performance.now();
  await victim.kill();
  await until('the standby to lead', async () => {
    const kv = await client.get(LEADER);
    return kv && (JSON.parse(kv.value) as { id: string }).id !== leader.id;
  }, 30_000, 10);
  const failoverMs = performance.now() - t0;

  const c = median(commitMs);
  const row = (name: string, ms: number, target: number | null) =>
    `${name.padEnd(34)} ${ms.toFixed(1).padStart(9)} ms  ${(ms / baseline).toFixed(0).padStart(6)}× baseline${target ? `   target ≤ ${target} ms: ${ms <= target ? 'met' : 'MISSED'}` : ''}`;
  console.log(`etcd agents benchmark: ${AGENTS} in-process agents, 1 etcd member (loopback), 2 reconciler processes`);
  console.log(row('baseline: put → watch event (p50)', baseline, null));
  console.log(row(`commit → all ${AGENTS} confirmed (median)`, c, 2000));
  console.log(`${''.padEnd(34)} runs: ${commitMs.map((m) => m.toFixed(0)).join(', ')} ms`);
  console.log(row('failover: leader killed → standby', failoverMs, 5000));
} finally {
  for (const c of cleanups.reverse()) await c();
  client.close();
  await etcd.close();
  await rm(dir, { recursive: true, force: true });
}
