import path from 'node:path';
import { parseArgs } from 'node:util';
import { openFileEventStore } from '../eventlog/file-store.js';
import { openGitSource } from '../git/source.js';
import { driversFromHostsFile } from '../hosts/drivers.js';
import { readHostsFile } from '../hosts/hosts-file.js';
import { createLogger } from '../log/logger.js';
import { startReconcileLoop } from '../reconciler/loop.js';
import { Reconciler } from '../reconciler/reconciler.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade reconcile --repo PATH|URL --state DIR --hosts FILE [options]

  --repo PATH|URL       policy repository (local path, or http(s) URL)
  --state DIR           state directory (event log, snapshots, clone cache)
  --hosts FILE          where hosts are and how to reach them (JSON; 'palisade lab up' writes one)
  --branch NAME         branch to track (default: main)
  --path DIR            only this sub-directory of the repository holds policy
  --poll-interval MS    how often to look for new commits (default: 1000)
  --once                process the commits not yet processed, then exit

How each revision rolls out (waves, soak, failure policy, checks) is read from palisade.yaml in
the policy repository, so it is reviewed with the policy.`;

export async function runReconcile(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      repo: { type: 'string' },
      state: { type: 'string' },
      hosts: { type: 'string' },
      branch: { type: 'string', default: 'main' },
      path: { type: 'string' },
      'poll-interval': { type: 'string', default: '1000' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.repo || !values.state || !values.hosts) throw new UsageError(`reconcile needs --repo, --state and --hosts\n\n${USAGE}`);
  const number = (name: string, text: string, min: number) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be a whole number ≥ ${min}, got '${text}'`);
    return n;
  };
  const pollIntervalMs = number('poll-interval', values['poll-interval'], 50);

  const hostsFile = await readHostsFile(values.hosts);
  const logger = createLogger({ simulated: hostsFile.hosts.some((h) => h.kind === 'simulated') });
  const stateDir = path.resolve(values.state);
  const store = await openFileEventStore(path.join(stateDir, 'events'));
  const git = await openGitSource({
    repo: values.repo,
    branch: values.branch,
    ...(values.path ? { path: values.path } : {}),
    cacheDir: path.join(stateDir, 'git-cache'),
    logger,
  });
  const reconciler = new Reconciler({ git, store, logger, stateDir, drivers: driversFromHostsFile(hostsFile), pollIntervalMs });
  try {
    await reconciler.load();
    if (values.once) {
      const results = await reconciler.reconcile();
      return results.some((r) => r.outcome !== 'completed' || r.failedHosts.length > 0) ? 1 : 0;
    }
    const loop = startReconcileLoop(reconciler, logger, { pollIntervalMs, maxBackoffMs: 60_000 });
    const stopWatching = git.watch(() => loop.trigger());
    logger.info({ event: 'ReconcilerStarted', repo: git.description, branch: values.branch, hosts: hostsFile.hosts.map((h) => h.name) }, 'watching for commits');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    stopWatching();
    await loop.stop();
    return 0;
  } finally {
    await git.close();
    await store.close();
  }
}
