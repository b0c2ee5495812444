/**
 * `node --import tsx bench/ssh/lab.ts [--hosts N] [--commits N]`: commit → every host confirmed,
 * for 20 lab hosts driven over SSH (real sshd in each namespace, ssh2 from the management
 * namespace, commit-confirmed on the host), next to the same lab driven through the netns driver
 * (`ip netns exec … nft`), in the same run, commits interleaved. One wave, concurrency = hosts,
 * soak 0, checkAttempts 1. The first commit of each (connections opened, first tables) is not
 * measured. Target (issue 11): SSH p50 ≤ 2× netns p50. Needs root and OpenSSH.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { closeDialers } from '../../src/checks/probes/dialer.js';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource } from '../../src/git/source.js';
import { closeDrivers, driversFromHostsFile } from '../../src/hosts/drivers.js';
import { labDown, labPrerequisites, labUp, type LabDescription } from '../../src/lab/lab.js';
import { sshPrerequisites } from '../../src/lab/lab-sshd.js';
import { silentLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { TestRepo } from '../../test/support/repo.js';
import { hostEndpoints, webPolicy } from '../../test/support/rollout-lab.js';
import { median } from '../support/scratch-ns.js';

const { values } = parseArgs({ options: { hosts: { type: 'string', default: '20' }, commits: { type: 'string', default: '5' } } });
const N = Number(values.hosts);
const COMMITS = Number(values.commits);
const HOSTS = Array.from({ length: N }, (_, i) => `node-${String(i + 1).padStart(2, '0')}`);
const YAML = `waves:\n  - name: all\nsoak: 0s\ncheckAttempts: 1\nconcurrency: ${N}\n`;

const pre = await labPrerequisites();
const ssh = pre.ok ? await sshPrerequisites() : pre;
if (!ssh.ok) {
  console.log(`skipped: ${ssh.why}`);
  process.exit(0);
}

let lab: LabDescription | null = null;
const work = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-ssh-'));
const teardown = async () => {
  await closeDialers();
  if (lab) await labDown(lab);
  lab = null;
  await rm(work, { recursive: true, force: true });
};
const onSignal = () => void teardown().finally(() => process.exit(130));
process.once('SIGINT', onSignal);
process.once('SIGTERM', onSignal);

async function driven(kind: 'ssh' | 'netns', labNow: LabDescription) {
  const file = hostsFileForLab(kind === 'ssh' ? labNow : { ...labNow, ssh: undefined });
  const drivers = driversFromHostsFile(file);
  const dir = path.join(work, kind);
  const repo = await TestRepo.create(path.join(dir, 'repo'));
  const store = await openFileEventStore(path.join(dir, 'state', 'events'));
  const source = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(dir, 'state', 'git-cache') });
  const reconciler = new Reconciler({ git: source, store, logger: silentLogger(), stateDir: path.join(dir, 'state'), drivers, pollIntervalMs: 60_000 });
  await reconciler.load();
  const ms: number[] = [];
  const commit = async (port: number, measure: boolean) => {
    const t0 = performance.now();
    await repo.commit({ 'hosts.yaml': hostEndpoints(HOSTS), 'web.yaml': webPolicy([80, port]), 'palisade.yaml': YAML }, `port ${port}`);
    const results = await reconciler.reconcile();
    if (measure) ms.push(performance.now() - t0);
    const last = results.at(-1);
    if (last?.outcome !== 'completed' || last.failedHosts.length) throw new Error(`${kind} commit (port ${port}): ${JSON.stringify(results)}`);
  };
  const close = async () => {
    await closeDrivers(drivers);
    await source.close();
    await store.close();
  };
  return { ms, commit, close };
}

try {
  lab = await labUp(HOSTS, { ssh: { dir: path.join(work, 'lab') } });
  const overSsh = await driven('ssh', lab);
  const overNetns = await driven('netns', lab);
  await overSsh.commit(1000, false);
  await overNetns.commit(1000, false);
  for (let i = 0; i < COMMITS; i++) {
    await overSsh.commit(2000 + i, true);
    await overNetns.commit(3000 + i, true);
  }
  await overSsh.close();
  await overNetns.close();
  const a = median(overSsh.ms);
  const b = median(overNetns.ms);
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`ssh lab benchmark: ${N} hosts, one wave, concurrency ${N}, soak 0, checkAttempts 1, ${COMMITS} commits each (interleaved); load average ${load}`);
  console.log(`baseline (netns driver): commit → all ${N} confirmed p50 ${b.toFixed(0)} ms (runs ${overNetns.ms.map((m) => m.toFixed(0)).join(', ')})`);
  console.log(`ssh driver: commit → all ${N} confirmed p50 ${a.toFixed(0)} ms = ${(a / b).toFixed(2)}× netns (runs ${overSsh.ms.map((m) => m.toFixed(0)).join(', ')}); target ≤ 2×: ${a <= 2 * b ? 'met' : 'MISSED'}`);
} finally {
  await teardown();
}
