/**
 * `node --import tsx bench/etcd/agents.ts [--agents N] [--commits C] [--cpu-prof-dir DIR] [--log-dir DIR]`:
 * N in-process agents (in-memory dataplane; default 50) against one real etcd member on
 * loopback, driven by two HA reconciler processes; one wave, concurrency N, zero soak.
 *
 *   baseline    etcd put → watch event latency (p50), measured first in the same run
 *   commit      Git commit → every agent's status in etcd says confirmed with the new ruleset,
 *               median of C commits (default 3)
 *   failover    leader SIGKILLed (and a commit made at once) → a standby holds the leader key,
 *               and → that commit is confirmed everywhere; lease TTL 2 s. Twice: at rest (the
 *               leader had recorded every rollout finished) and mid-rollout (killed as soon as
 *               the agents confirmed a commit, its event log still behind them)
 *
 * Also: leadership changes nobody forced (target 0), and CPU time of the leading reconciler
 * process apart from this process (the agents; in the field each agent is on its own host).
 * With --cpu-prof-dir the reconcilers write a CPU profile there when they get SIGTERM; with
 * --log-dir their logs (reconciler-N.log, a file each, never a pipe) are kept there.
 * Targets (issue 16): N=50 ≤ 2 s, N=1,000 ≤ 10 s, per-host cost at 1,000 ≤ 1.5× at 50, failover ≤ 5 s.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AgentStatus } from '../../src/agent/protocol.js';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { HOSTS, LEADER } from '../../src/etcd/keys.js';
import { startEtcd } from '../../test/support/etcd.js';
import { fleetPolicy, hostNames, startCheckService, startFleetAgents, startReconcilerProcess, until, writeAgentHostsFile, type ReconcilerProcess } from '../../test/support/fleet.js';
import { TestRepo } from '../../test/support/repo.js';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '50' }, commits: { type: 'string', default: '3' }, 'cpu-prof-dir': { type: 'string' }, 'log-dir': { type: 'string' } } });
const AGENTS = Number(values.agents);
const COMMITS = Number(values.commits);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** utime + stime of a process, in ms (Linux /proc; clock ticks are 100 Hz). */
const cpuMsOf = async (pid: number) => {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
};
const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-etcd-'));
const etcd = await startEtcd();
const endpoints = parseStoreUrl(etcd.localStoreUrl);
const client = new EtcdClient(endpoints);
const cleanups: (() => Promise<unknown> | unknown)[] = [];
let failureContext = () => '';
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

  // Every status, as etcd has it: one prefix watch, not a read per host per poll.
  const status = new Map<string, AgentStatus>();
  const statusWatch = await client.client.watch().prefix(HOSTS).create();
  statusWatch.on('put', (kv) => {
    const key = kv.key.toString();
    if (key.endsWith('/status')) status.set(key.slice(HOSTS.length, -'/status'.length), AgentStatus.parse(JSON.parse(kv.value.toString())));
  });
  cleanups.push(() => statusWatch.cancel());
  const leaders: string[] = [];
  const leaderWatch = await client.client.watch().key(LEADER).create();
  leaderWatch.on('put', (kv) => leaders.push((JSON.parse(kv.value.toString()) as { id: string }).id));
  cleanups.push(() => leaderWatch.cancel());

  const hosts = hostNames(AGENTS);
  const repo = await TestRepo.create(join(dir, 'repo'));
  await repo.commit({ ...fleetPolicy(hosts, 80), 'palisade.yaml': `waves:\n  - name: all\nsoak: 0s\nconcurrency: ${AGENTS}\n` }, 'initial');
  const hostsFile = join(dir, 'hosts.json');
  await writeAgentHostsFile(hostsFile, hosts);
  const service = await startCheckService();
  cleanups.push(() => service.close());
  const agents = await startFleetAgents(endpoints, hosts, join(dir, 'agents'));
  cleanups.push(() => Promise.all(agents.map((a) => a.stop())));
  const reconcilerArgs = (n: number) => ({
    storeUrl: etcd.localStoreUrl,
    repo: repo.dir,
    hostsFile,
    stateDir: join(dir, `r${n}`),
    checkPort: service.port,
    // A file, as the journal would be: the agents keep this process too busy to drain a pipe.
    outputFile: join(values['log-dir'] ?? dir, `reconciler-${n}.log`),
    ...(values['cpu-prof-dir'] ? { cpuProfile: join(values['cpu-prof-dir'], `reconciler-${n}.cpuprofile`) } : {}),
  });
  const reconcilers = [1, 2].map((n) => startReconcilerProcess(reconcilerArgs(n)));
  cleanups.push(() => Promise.all(reconcilers.map((r) => r.kill('SIGTERM'))));

  const confirmedAll = (notHash?: string) => hosts.every((h) => status.get(h)?.state === 'confirmed' && (notHash === undefined || status.get(h)?.ruleset?.hash !== notHash));
  // Whatever step times out, the reconcilers' last words say why.
  failureContext = () => reconcilers.map((r) => `reconciler ${r.proc.pid}:\n${r.output().split('\n').slice(-30).join('\n')}`).join('\n');
  await until('the initial rollout', async () => confirmedAll(), Math.max(60_000, AGENTS * 150), 20);
  const leaderNow = () => leaders.at(-1)!;
  const leaderProcess = () => reconcilers.find((r) => leaderNow().endsWith(`:${r.proc.pid}`))!;

  const commitMs: number[] = [];
  const cpu = { reconciler: 0, agents: 0 };
  const leadersBefore = leaders.length;
  for (let i = 0; i < COMMITS; i++) {
    const before = status.get(hosts[0]!)?.ruleset?.hash;
    const [rc0, own0] = [await cpuMsOf(leaderProcess().proc.pid!), ownCpuMs()];
    const t0 = performance.now();
    await repo.commit(fleetPolicy(hosts, 81 + i), `port ${81 + i}`);
    await until(`commit ${i + 1} confirmed everywhere`, async () => confirmedAll(before), 120_000, 5);
    commitMs.push(performance.now() - t0);
    cpu.reconciler += (await cpuMsOf(leaderProcess().proc.pid!)) - rc0;
    cpu.agents += ownCpuMs() - own0;
  }
  const unforced = leaders.length - leadersBefore;

  // Failover, twice: with the leader at rest (every rollout it started recorded as finished), and
  // with the leader killed the moment the agents report the last commit confirmed — its event log
  // still behind them, so the new leader first resumes (and settles) that rollout.
  const finishedIn = (r: ReconcilerProcess) => (r.output().match(/"event":"RolloutFinished"/g) ?? []).length;
  const failover = async (port: number) => {
    const victim = leaderProcess();
    const oldLeader = leaderNow();
    const before = status.get(hosts[0]!)?.ruleset?.hash;
    const t0 = performance.now();
    await victim.kill('SIGKILL');
    await repo.commit(fleetPolicy(hosts, port), `port ${port}`);
    await until('the standby to lead', async () => leaderNow() !== oldLeader, 30_000, 5);
    const leadMs = performance.now() - t0;
    await until('the commit after failover confirmed everywhere', async () => confirmedAll(before), 120_000, 5);
    return { leadMs, failoverMs: performance.now() - t0 };
  };
  const leader = leaderProcess();
  await until('the leader to record every rollout finished', async () => finishedIn(leader) >= 1 + COMMITS, 120_000, 250);
  const atRest = await failover(200);

  const spare = startReconcilerProcess(reconcilerArgs(3));
  reconcilers.push(spare);
  await until('the third reconciler to stand by', async () => spare.output().includes('"event":"Standby"'), 60_000, 250);
  const before = status.get(hosts[0]!)?.ruleset?.hash;
  await repo.commit(fleetPolicy(hosts, 201), 'port 201');
  await until('commit before the second failover confirmed everywhere', async () => confirmedAll(before), 120_000, 5);
  const midRollout = await failover(202);

  const c = median(commitMs);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  const row = (name: string, ms: number, target: number | null) =>
    `${name.padEnd(44)} ${ms.toFixed(1).padStart(9)} ms  ${(ms / baseline).toFixed(0).padStart(6)}× baseline${target ? `   target ≤ ${target} ms: ${ms <= target ? 'met' : 'MISSED'}` : ''}`;
  console.log(`etcd agents benchmark: ${AGENTS} in-process agents, 1 etcd member (loopback), 2 reconciler processes; load average ${load}`);
  console.log(row('baseline: put → watch event (p50)', baseline, null));
  console.log(row(`commit → all ${AGENTS} confirmed (median)`, c, AGENTS <= 50 ? 2000 : AGENTS >= 1000 ? 10_000 : null));
  console.log(`${''.padEnd(44)} runs: ${commitMs.map((m) => m.toFixed(0)).join(', ')} ms; per host ${(c / AGENTS).toFixed(2)} ms`);
  console.log(`${''.padEnd(44)} CPU per commit: leading reconciler ${(cpu.reconciler / COMMITS).toFixed(0)} ms, agents (this process) ${(cpu.agents / COMMITS).toFixed(0)} ms`);
  console.log(row('failover at rest: leader killed → standby leads', atRest.leadMs, null));
  console.log(row('… → next commit confirmed everywhere', atRest.failoverMs, 5000));
  console.log(row('failover mid-rollout: → standby leads', midRollout.leadMs, null));
  console.log(row('… → next commit confirmed everywhere', midRollout.failoverMs, 5000));
  console.log(`unforced leadership changes during the commits: ${unforced} (target 0)`);
  console.log(`RESULT ${JSON.stringify({ agents: AGENTS, load, baselineMs: baseline, commitMs, perHostMs: c / AGENTS, cpuPerCommitMs: { reconciler: cpu.reconciler / COMMITS, agents: cpu.agents / COMMITS }, atRest, midRollout, unforced })}`);
} catch (e) {
  console.error(failureContext());
  throw e;
} finally {
  for (const c of cleanups.reverse()) await c();
  client.close();
  await etcd.close();
  await rm(dir, { recursive: true, force: true });
}
