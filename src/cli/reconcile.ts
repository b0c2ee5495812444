import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { openFileEventStore } from '../eventlog/file-store.js';
import { stateLayout } from '../eventlog/layout.js';
import { openSnapshotStore } from '../eventlog/snapshot.js';
import { openGitSource } from '../git/source.js';
import { closeDrivers, driversFromHostsFile } from '../hosts/drivers.js';
import { readHostsFile } from '../hosts/hosts-file.js';
import { startHttpServer } from '../http/server.js';
import { createLogger } from '../log/logger.js';
import { createMetrics, eventLogObserver } from '../metrics.js';
import { startReconcileLoop } from '../reconciler/loop.js';
import { ControlError, Reconciler } from '../reconciler/reconciler.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade reconcile --repo PATH|URL --state DIR --hosts FILE [options]

  --repo PATH|URL       policy repository (local path, or http(s) URL)
  --state DIR           state directory (event log, snapshots, clone cache)
  --hosts FILE          where hosts are and how to reach them (JSON; 'palisade lab up' writes one)
  --branch NAME         branch to track (default: main)
  --path DIR            only this sub-directory of the repository holds policy
  --poll-interval MS    how often to look for new commits (default: 1000)
  --listen HOST:PORT    HTTP server: webhook, /healthz, /readyz, /metrics, rollout control
                        (default: 127.0.0.1:9420; 'off' disables it)
  --drift-interval MS   how often hosts' tables are read back; a hand edit is recorded and
                        undone (default: 30000; 0 disables)
  --snapshot-every N     snapshot the reconciler's state every N events, so a restart replays
                        only what came after (in etcd: and delete the events it covers;
                        default: 10000)
  --store etcd://HOST:PORT[,…]
                        scale-out mode: the event log and agent hosts in etcd, one leader among
                        several reconcilers (default: the embedded file store under --state)
  --once                process the commits not yet processed, then exit (no HTTP server)

Environment: PALISADE_WEBHOOK_SECRET (HMAC secret of POST /hooks/git), PALISADE_CONTROL_TOKEN
(bearer token for POST /rollout/<action> from non-loopback clients), PALISADE_GIT_USERNAME,
PALISADE_GIT_PASSWORD / PALISADE_GIT_TOKEN (remote repositories).

How each revision rolls out (waves, soak, failure policy, checks) is read from palisade.yaml in
the policy repository, so it is reviewed with the policy.`;

function parseListen(text: string): { host: string; port: number } | null {
  if (text === 'off') return null;
  const m = /^(.*):(\d+)$/.exec(text);
  const port = Number(m?.[2]);
  if (!m || !m[1] || !Number.isInteger(port) || port > 65535) throw new UsageError(`--listen must be HOST:PORT or 'off', got '${text}'`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

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
      listen: { type: 'string', default: '127.0.0.1:9420' },
      'drift-interval': { type: 'string', default: '30000' },
      'snapshot-every': { type: 'string', default: '10000' },
      store: { type: 'string' },
      once: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.repo || !values.state || !values.hosts) throw new UsageError(`reconcile needs --repo, --state and --hosts\n\n${USAGE}`);
  const pollIntervalMs = Number(values['poll-interval']);
  if (!Number.isInteger(pollIntervalMs) || pollIntervalMs < 50) throw new UsageError(`--poll-interval must be a whole number of milliseconds ≥ 50, got '${values['poll-interval']}'`);
  const listen = values.once ? null : parseListen(values.listen);
  const snapshotEvery = Number(values['snapshot-every']);
  if (!Number.isInteger(snapshotEvery) || snapshotEvery < 1) throw new UsageError(`--snapshot-every must be a whole number ≥ 1, got '${values['snapshot-every']}'`);
  const driftIntervalMs = Number(values['drift-interval']);
  if (!Number.isInteger(driftIntervalMs) || driftIntervalMs < 0) throw new UsageError(`--drift-interval must be a whole number of milliseconds (0 disables), got '${values['drift-interval']}'`);

  const hostsFile = await readHostsFile(values.hosts);
  const logger = createLogger({ simulated: hostsFile.hosts.some((h) => h.kind === 'simulated') });
  const stateDir = path.resolve(values.state);
  const layout = stateLayout(stateDir);
  const metrics = createMetrics({ processMetrics: !values.once });
  const git = await openGitSource({
    repo: values.repo,
    branch: values.branch,
    ...(values.path ? { path: values.path } : {}),
    cacheDir: layout.gitCache,
    logger,
  });
  const shutdown = new AbortController();
  const stop = () => shutdown.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const common = { git, logger, stateDir, pollIntervalMs, metrics, snapshotEvery };
  const serveOptions = { listen, driftIntervalMs, once: values.once, endpointFile: layout.endpoint, metrics };
  try {
    if (values.store !== undefined) {
      // Loaded only in this mode: the embedded default never pulls in the etcd client.
      const [{ parseStoreUrl }, { runWithLeaderElection }, { logSnapshots }, { EtcdBeforeSnapshots }] = await Promise.all([
        import('../etcd/client.js'),
        import('../etcd/ha-reconciler.js'),
        import('../etcd/log-snapshots.js'),
        import('../etcd/before-snapshots.js'),
      ]);
      const endpoints = parseStoreUrl(values.store);
      const [feedHost, feedPort] = splitEndpoint(endpoints[0]!);
      let failed = false;
      await runWithLeaderElection({
        storeUrl: values.store,
        logger,
        signal: shutdown.signal,
        once: values.once,
        term: async ({ etcd, fence, store, drivers, signal }) => {
          const reconciler: Reconciler = new Reconciler({
            ...common,
            store,
            drivers: drivers(hostsFile, (host) => reconciler.checksFor(host)),
            // Agents must keep reaching etcd: that path is a failsafe check from every host.
            feedEndpoint: { host: feedHost, port: feedPort },
            snapshots: logSnapshots(store),
            // In etcd, so the next leader can roll back what this one applied.
            beforeSnapshots: new EtcdBeforeSnapshots(etcd, fence),
          });
          failed = (await serve(reconciler, signal, serveOptions)) || failed;
        },
      });
      return failed ? 1 : 0;
    }
    const store = await openFileEventStore(layout.events, { logger, onAppended: eventLogObserver(metrics) });
    const drivers = driversFromHostsFile(hostsFile);
    try {
      const reconciler = new Reconciler({ ...common, store, drivers, snapshots: openSnapshotStore(layout.snapshots, logger) });
      return (await serve(reconciler, shutdown.signal, serveOptions)) ? 1 : 0;
    } finally {
      await closeDrivers(drivers);
      await store.close();
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await git.close();
  }
}

function splitEndpoint(endpoint: string): [string, number] {
  const i = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, i).replace(/^\[(.*)\]$/, '$1'), Number(endpoint.slice(i + 1))];
}

/**
 * Runs a reconciler until `signal`: the poll loop, the file watcher, the HTTP face and the drift
 * monitor (or, with `once`, a single pass). True when a rollout did not complete.
 */
async function serve(
  reconciler: Reconciler,
  signal: AbortSignal,
  opts: { listen: { host: string; port: number } | null; driftIntervalMs: number; once: boolean; endpointFile: string; metrics: ReturnType<typeof createMetrics> },
): Promise<boolean> {
  const { logger } = reconciler;
  await reconciler.load();
  if (opts.once) {
    const results = await reconciler.reconcile();
    return results.some((r) => r.outcome !== 'completed' || r.failedHosts.length > 0);
  }
  let ready = false;
  const loop = startReconcileLoop(reconciler, logger, {
    pollIntervalMs: reconciler.pollIntervalMs,
    maxBackoffMs: 60_000,
    onResults: () => {
      ready = true;
    },
  });
  const server = opts.listen
    ? await startHttpServer({
        ...opts.listen,
        registry: opts.metrics.registry,
        logger,
        ready: () => ready || reconciler.state.lastSeq > 0,
        onGitHook: () => loop.trigger(),
        ...(process.env.PALISADE_WEBHOOK_SECRET ? { webhookSecret: process.env.PALISADE_WEBHOOK_SECRET } : {}),
        ...(process.env.PALISADE_CONTROL_TOKEN ? { controlToken: process.env.PALISADE_CONTROL_TOKEN } : {}),
        onControl: async (action, by) => {
          try {
            const revision = await reconciler.control(action, by);
            if (action === 'retry') loop.trigger();
            return { status: 202, message: `${action} of ${revision.slice(0, 12)} accepted` };
          } catch (e) {
            if (e instanceof ControlError) return { status: 409, message: e.message };
            throw e;
          }
        },
      })
    : null;
  if (server) await writeFile(opts.endpointFile, JSON.stringify({ url: server.url, pid: process.pid }));
  const stopWatching = reconciler.git.watch(() => loop.trigger());
  const drift = opts.driftIntervalMs > 0 ? reconciler.startDriftMonitor(opts.driftIntervalMs) : null;
  logger.info({ event: 'ReconcilerStarted', repo: reconciler.git.description, http: server?.url }, 'watching for commits');
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  logger.info({ event: 'ReconcilerStopping' }, 'stopping: letting the current pass finish');
  stopWatching();
  await drift?.stop();
  await loop.stop();
  if (server) {
    await server.close();
    await rm(opts.endpointFile, { force: true });
  }
  return false;
}
