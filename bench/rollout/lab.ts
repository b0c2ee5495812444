/**
 * `node --import tsx bench/rollout/lab.ts [--commits N] [--cpu-prof-dir DIR]`: the embedded
 * reconciler against three lab namespaces (real nft, real probes from the management namespace),
 * soak 0, `checkAttempts: 1`, canary then the rest.
 *
 *   baseline  one `nft -f` of a host's ruleset (ip netns exec) + one TCP connect from the
 *             management namespace to that host, measured in the same run (p50 of 20)
 *   commit    Git commit → every host confirmed (the reconciler is triggered at once, as the
 *             webhook or the file watcher would), p50 of N commits (default 12)
 *
 * Target (issue 16): p50 ≤ 250 ms. Needs root (network namespaces).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource } from '../../src/git/source.js';
import { driversFromHostsFile } from '../../src/hosts/drivers.js';
import { labDown, labPrerequisites, labUp, type LabDescription } from '../../src/lab/lab.js';
import { createLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { TestRepo } from '../../test/support/repo.js';
import { hostEndpoints, webPolicy } from '../../test/support/rollout-lab.js';
import { median, quantile } from '../support/scratch-ns.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { commits: { type: 'string', default: '12' } } });
/** Time spent in each host state, summed over the hosts of a wave and the measured commits (from the log lines' arrival). */
const inState = new Map<string, number[]>();
const entered = new Map<string, { state: string; at: number }>();
const phases = {
  write(line: string) {
    const l = JSON.parse(line) as { event?: string; host?: string; wave?: number; to?: string };
    if (l.event !== 'HostTransition' || !l.host) return;
    const now = performance.now();
    const last = entered.get(l.host);
    if (last) (inState.get(`wave ${l.wave} ${last.state}`) ?? inState.set(`wave ${l.wave} ${last.state}`, []).get(`wave ${l.wave} ${last.state}`)!).push(now - last.at);
    entered.set(l.host, { state: l.to!, at: now });
  },
};
const COMMITS = Number(values.commits);
const HOSTS = ['node-a', 'node-b', 'node-c'];
const YAML = 'waves:\n  - name: canary\n    count: 1\n  - name: rest\nsoak: 0s\ncheckAttempts: 1\nconcurrency: 4\n';

const pre = await labPrerequisites();
if (!pre.ok) {
  console.log(`skipped: ${pre.why}`);
  process.exit(0);
}

let lab: LabDescription | null = null;
const work = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-lab-'));
const teardown = async () => {
  if (lab) await labDown(lab);
  lab = null;
  await rm(work, { recursive: true, force: true });
};
const onSignal = () => void teardown().finally(() => process.exit(130));
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

/** One TCP connect from `ns` to `address:port`, timed inside a process already running there. */
function connectTimer(ns: string, address: string, port: number, times: number): Promise<number[]> {
  const src = `const net = require('node:net'); const out = [];
const one = () => { const t0 = process.hrtime.bigint(); const s = net.connect({ host: ${JSON.stringify(address)}, port: ${port} });
  s.on('connect', () => { out.push(Number(process.hrtime.bigint() - t0) / 1e6); s.destroy(); out.length < ${times} ? one() : (console.log(JSON.stringify(out)), process.exit(0)); });
  s.on('error', (e) => { console.error(e.message); process.exit(1); }); };
one(); setTimeout(() => process.exit(2), 10000);`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`connect timer exited ${code}`))));
  });
}

try {
  lab = await labUp(HOSTS);
  const repo = await TestRepo.create(path.join(work, 'repo'));
  const drivers = driversFromHostsFile(hostsFileForLab(lab));
  const store = await openFileEventStore(path.join(work, 'state', 'events'));
  const source = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(work, 'state', 'git-cache') });
  const reconciler = new Reconciler({ git: source, store, logger: createLogger({ destination: phases }), stateDir: path.join(work, 'state'), drivers, pollIntervalMs: 60_000 });
  await reconciler.load();
  const files = (port: number) => ({ 'hosts.yaml': hostEndpoints(HOSTS), 'web.yaml': webPolicy([80, port]), 'palisade.yaml': YAML });

  await repo.commit(files(1000), 'initial');
  const first = await reconciler.reconcile();
  if (first.at(-1)?.outcome !== 'completed') throw new Error(`initial rollout: ${JSON.stringify(first)}`);

  // Baseline: the host's own ruleset through `nft -f`, and one connect from the management namespace.
  const host = lab.hosts[0]!;
  const { stdout: ruleset } = await run('ip', ['netns', 'exec', host.namespace, 'nft', 'list', 'table', 'inet', 'palisade']);
  const nftMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', host.namespace, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft -f exited ${code}`))));
      child.stdin.end(`flush table inet palisade\n${ruleset}`);
    });
    nftMs.push(performance.now() - t0);
  }
  const connectMs = await connectTimer(lab.management.namespace, host.address, 22, 20);
  const baseline = median(nftMs) + median(connectMs);

  inState.clear();
  const commitMs: number[] = [];
  for (let i = 0; i < COMMITS; i++) {
    const t0 = performance.now();
    await repo.commit(files(1001 + i), `port ${1001 + i}`);
    const results = await reconciler.reconcile();
    commitMs.push(performance.now() - t0);
    if (results.at(-1)?.outcome !== 'completed' || results.at(-1)?.failedHosts.length) throw new Error(`commit ${i + 1}: ${JSON.stringify(results)}`);
  }
  await source.close();
  await store.close();

  const p50 = median(commitMs);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`embedded lab benchmark: ${HOSTS.length} hosts in namespaces, 2 waves, soak 0, checkAttempts 1; load average ${load}`);
  console.log(`baseline: nft -f p50 ${median(nftMs).toFixed(1)} ms + TCP connect p50 ${median(connectMs).toFixed(2)} ms = ${baseline.toFixed(1)} ms`);
  console.log(`commit → all ${HOSTS.length} confirmed: p50 ${p50.toFixed(0)} ms (${(p50 / baseline).toFixed(1)}× baseline), p90 ${quantile(commitMs, 0.9).toFixed(0)} ms; target ≤ 250 ms: ${p50 <= 250 ? 'met' : 'MISSED'}`);
  console.log(`time per host state (p50 over hosts and commits, ms): ${[...inState].filter(([k]) => !k.endsWith('confirmed')).map(([k, v]) => `${k} ${median(v).toFixed(0)}`).join(', ')}`);
  console.log(`runs: ${commitMs.map((m) => m.toFixed(0)).join(', ')} ms`);
} finally {
  await teardown();
}
