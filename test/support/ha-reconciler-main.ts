/**
 * One HA reconciler process for the fault tests: `node --import tsx ha-reconciler-main.ts
 * STORE_URL REPO HOSTS_FILE STATE_DIR CHECK_PORT`. Wires the reconciler into
 * runWithLeaderElection the way `palisade reconcile --store etcd://…` does; logs JSON to stdout.
 */
import path from 'node:path';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { EtcdBeforeSnapshots } from '../../src/etcd/before-snapshots.js';
import { runWithLeaderElection } from '../../src/etcd/ha-reconciler.js';
import { openGitSource } from '../../src/git/source.js';
import { readHostsFile } from '../../src/hosts/hosts-file.js';
import { cpuProfileOnRequest } from '../../src/log/cpu-profile.js';
import { createLogger } from '../../src/log/logger.js';
import { startReconcileLoop } from '../../src/reconciler/loop.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';

const [storeUrl, repo, hostsPath, stateDir, checkPort] = process.argv.slice(2) as [string, string, string, string, string];
const profile = cpuProfileOnRequest();
const logger = createLogger();
const hostsFile = await readHostsFile(hostsPath);
const git = await openGitSource({ repo, branch: 'main', cacheDir: path.join(stateDir, 'git-cache'), logger });
const checks = [CheckSpec.parse({ name: 'service', kind: 'tcp', port: Number(checkPort), target: '127.0.0.1', timeoutMs: 1000 })];
const shutdown = new AbortController();
process.once('SIGTERM', () => shutdown.abort());

await runWithLeaderElection({
  storeUrl,
  logger,
  signal: shutdown.signal,
  leaseTtlS: 2,
  confirmMs: 10_000,
  term: async ({ etcd, fence, store, drivers, signal, lost }) => {
    // The in-process agents have no sshd: the test's service stands in for the failsafe check.
    const reconciler: Reconciler = new Reconciler({
      git,
      store,
      logger,
      stateDir,
      drivers: drivers(hostsFile, (host) => reconciler.checksFor(host)),
      failsafeChecks: checks,
      beforeSnapshots: new EtcdBeforeSnapshots(etcd, fence),
      pollIntervalMs: 100,
    });
    // As `palisade reconcile --store` does: deposed, the rollout stops where it is.
    lost.addEventListener('abort', () => reconciler.interrupt(lost.reason instanceof Error ? lost.reason : new Error('leadership lost')), { once: true });
    await reconciler.load();
    const loop = startReconcileLoop(reconciler, logger, { pollIntervalMs: 100, maxBackoffMs: 1000 });
    const stopWatching = git.watch(() => loop.trigger());
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    stopWatching();
    await loop.stop();
  },
});
await git.close();
await profile?.write();
process.exit(0);
