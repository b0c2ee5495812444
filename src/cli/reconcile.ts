import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openFileEventStore, type FileEventStore } from '../eventlog/file-store.js';
import { stateLayout } from '../eventlog/layout.js';
import { openSnapshotStore } from '../eventlog/snapshot.js';
import type { EventStore } from '../eventlog/store.js';
import { openGitSource, type GitSource } from '../git/source.js';
import { closeDrivers, driversFromHostsFile } from '../hosts/drivers.js';
import { hostsPolicyMismatch, readHostsFile, type HostsFile } from '../hosts/hosts-file.js';
import { startHttpServer, type Readiness } from '../http/server.js';
import { createLogger, LOG_FORMATS, logFormat, type Logger } from '../log/logger.js';
import { createMetrics } from '../metrics.js';
import { cpuProfileOnRequest } from '../log/cpu-profile.js';
import { startReconcileLoop } from '../reconciler/loop.js';
import { ControlError, Reconciler } from '../reconciler/reconciler.js';
import { formatModelError } from '../model/errors.js';
import { readNotifyFile, startNotifications, type NotifyConfig } from '../notify/index.js';
import { readRepository } from '../repository/repository.js';
import { desiredStateOf } from '../state/desired-state.js';
import { parseCommand } from './args.js';
import { policyNodes } from './host-source.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade reconcile --repo PATH|URL --state DIR --hosts FILE [options]

  --repo PATH|URL       policy repository (local path, or http(s) URL)
  --state DIR           state directory (event log, snapshots, clone cache)
  --hosts FILE          where hosts are and how to reach them (JSON; 'palisade lab up' writes one)
  --branch NAME         branch to track (default: main)
  --path DIR            only this sub-directory of the repository holds policy
  --poll-interval D     how often to look for new commits (default: 1s; durations: 500ms, 5s, 2m, 1h)
  --listen HOST:PORT    HTTP server: webhook, /healthz, /readyz, /metrics, rollout control
                        (default: 127.0.0.1:9420; 'off' disables it)
  --drift-interval D    how often hosts' tables are read back; a hand edit is recorded and
                        undone (default: 30s; 0 disables)
  --snapshot-every N    snapshot the reconciler's state every N events, so a restart replays
                        only what came after (in etcd: and delete the events it covers;
                        default: 10000)
  --store etcd://HOST:PORT[,…]
                        scale-out mode: the event log and agent hosts in etcd, one leader among
                        several reconcilers (default: the embedded file store under --state)
  --lease-ttl D         etcd mode: TTL of the leader's lease, whole seconds — how long a dead
                        leader keeps the key before a standby takes over (default: 3s)
  --notify FILE         send notifications (webhook, Slack, GitHub commit statuses) as the
                        event log records them; FILE is checked like 'palisade validate --notify'
  --public-url URL      where people reach this reconciler's rollout page (links in notifications)
  --once                process the commits not yet processed, then exit (no HTTP server)
  --log-format F        json or pretty (default: PALISADE_LOG_FORMAT, else pretty on a terminal)
  -h, --help            this text

Exit status: 0 stopped cleanly (SIGINT/SIGTERM) or, with --once, every rollout completed;
1 a rollout did not complete (--once) or the reconciler could not start; 2 usage error.

Environment: PALISADE_LOG_LEVEL (trace … fatal, default info), PALISADE_LOG_FORMAT, PALISADE_WEBHOOK_SECRET (HMAC secret of POST /hooks/git), PALISADE_CONTROL_TOKEN
(bearer token for POST /rollout/<action>; when set, it is required from loopback clients too), PALISADE_GIT_USERNAME,
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

const SPEC = {
  name: 'reconcile',
  usage: USAGE,
  options: {
    repo: { type: 'string' },
    state: { type: 'string' },
    hosts: { type: 'string' },
    branch: { type: 'string', default: 'main' },
    path: { type: 'string' },
    'poll-interval': { type: 'duration', default: '1s', min: 50 },
    listen: { type: 'string', default: '127.0.0.1:9420' },
    'drift-interval': { type: 'duration', default: '30s' },
    'snapshot-every': { type: 'integer', default: 10_000, min: 1 },
    store: { type: 'string' },
    'lease-ttl': { type: 'duration', default: '3s', min: 2000, wholeSeconds: true },
    notify: { type: 'string' },
    'public-url': { type: 'string' },
    once: { type: 'boolean' },
    'log-format': { type: 'choice', choices: LOG_FORMATS },
  },
} as const;

export async function runReconcile(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, SPEC, io);
  if (!args) return 0;
  const values = args.values;
  if (!values.repo || !values.state || !values.hosts) throw new UsageError('reconcile needs --repo, --state and --hosts');
  const pollIntervalMs = values['poll-interval'];
  const listen = values.once ? null : parseListen(values.listen);
  const snapshotEvery = values['snapshot-every'];
  const driftIntervalMs = values['drift-interval'];
  const leaseTtlS = values['lease-ttl'] / 1000;
  const publicUrl = values['public-url'];
  if (publicUrl !== undefined && !/^https?:\/\/[^/]/.test(publicUrl)) throw new UsageError(`--public-url must be an http:// or https:// URL, got '${publicUrl}'`);
  if (values.notify !== undefined && values.store !== undefined) throw new UsageError("--notify is not supported with --store yet: positions live in this machine's state directory, and etcd log snapshots delete events a provider has not sent");
  const notify = values.notify === undefined ? null : await loadNotify(values.notify);

  const hostsFile = await readHostsFile(values.hosts);
  const logger = createLogger({ simulated: hostsFile.hosts.some((h) => h.kind === 'simulated'), format: logFormat(values['log-format']) });
  const stateDir = path.resolve(values.state);
  // Created here for both modes (etcd mode writes only http.json and the clone cache into it): a
  // missing directory must not surface as a failure of every leader term.
  await mkdir(stateDir, { recursive: true }).catch((e: NodeJS.ErrnoException) => {
    throw new UsageError(`--state ${values.state}: cannot create the state directory (${e.code ?? e.message})`);
  });
  const layout = stateLayout(stateDir);
  const metrics = createMetrics({ processMetrics: !values.once });
  const git = await openGitSource({
    repo: values.repo,
    branch: values.branch,
    ...(values.path ? { path: values.path } : {}),
    cacheDir: layout.gitCache,
    logger,
  });
  await warnOnHostsMismatch(git, hostsFile, logger);
  const profile = cpuProfileOnRequest();
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
      const feedEndpoints = endpoints.map((e) => {
        const [host, port] = splitEndpoint(e);
        return { host, port };
      });
      let failed = false;
      await runWithLeaderElection({
        storeUrl: values.store,
        logger,
        leaseTtlS,
        signal: shutdown.signal,
        once: values.once,
        term: async ({ etcd, fence, store, drivers, signal, lost }) => {
          const reconciler: Reconciler = new Reconciler({
            ...common,
            store,
            drivers: drivers(hostsFile, (host) => reconciler.checksFor(host)),
            // Agents must keep reaching etcd: that path is a failsafe check from every host.
            feedEndpoints,
            snapshots: logSnapshots(store),
            // In etcd, so the next leader can roll back what this one applied.
            beforeSnapshots: new EtcdBeforeSnapshots(etcd, fence),
          });
          // Deposed: stop the rollout where it is rather than let it run out its steps unrecorded.
          lost.addEventListener('abort', () => reconciler.interrupt(lost.reason instanceof Error ? lost.reason : new Error('leadership lost')), { once: true });
          failed = (await serve(reconciler, signal, { ...serveOptions, store })) || failed;
        },
      });
      return failed ? 1 : 0;
    }
    const store = await openFileEventStore(layout.events, { logger });
    // Its own loops, reading the log: a slow or dead receiver never holds up a rollout.
    const notifier = notify ? startNotifications(notify, { dir: layout.notify, source: store, logger, ...(publicUrl ? { publicUrl } : {}) }) : null;
    // A first start begins at the log's head: it must be read before this run appends anything.
    await notifier?.ready;
    const drivers = driversFromHostsFile(hostsFile);
    try {
      const reconciler = new Reconciler({ ...common, store, drivers, snapshots: openSnapshotStore(layout.snapshots, logger) });
      const failed = await serve(reconciler, shutdown.signal, { ...serveOptions, store });
      if (notifier && values.once && !(await notifier.drain(await store.head(), ONCE_DRAIN_MS))) {
        logger.warn({ event: 'NotificationsPending', positions: notifier.positions() }, 'some notifications are not delivered yet; the next run sends them');
      }
      return failed ? 1 : 0;
    } finally {
      await closeDrivers(drivers);
      await notifier?.stop();
      await store.close();
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await git.close();
    await profile?.write();
  }
}

/** How long `--once` waits for notifications to go out before it exits (the rest go next run). */
const ONCE_DRAIN_MS = 30_000;

/** The notify file, refused as a whole (every problem as file:line:col) when anything is wrong with it. */
async function loadNotify(file: string): Promise<NotifyConfig> {
  const { config, errors, unset } = await readNotifyFile(file);
  const problems = [...errors, ...unset];
  if (config && problems.length === 0) return config;
  throw Object.assign(new Error(`${file} is not a valid notify file:\n${problems.map(formatModelError).join('\n')}`), { code: 'NOTIFY_CONFIG_INVALID' });
}

/** At start: where the hosts file and the tracked branch's policy disagree (a warning each; nothing stops). */
async function warnOnHostsMismatch(git: GitSource, hostsFile: HostsFile, logger: Logger): Promise<void> {
  const head = await git.head().catch(() => null);
  if (head === null) return;
  const repository = readRepository(await git.readFiles(head));
  if (repository.errors.length > 0) return; // the rollout rejects it, with every error
  for (const warning of hostsPolicyMismatch(hostsFile.hosts.map((h) => h.name), policyNodes(desiredStateOf(repository.resources)))) {
    logger.warn({ event: 'HostsFileMismatch', revision: head }, warning);
  }
}

function splitEndpoint(endpoint: string): [string, number] {
  const i = endpoint.lastIndexOf(':');
  return [endpoint.slice(0, i).replace(/^\[(.*)\]$/, '$1'), Number(endpoint.slice(i + 1))];
}

/**
 * Runs a reconciler until `signal`: the poll loop, the file watcher, the HTTP face and the drift
 * monitor (or, with `once`, a single pass). True when a rollout did not complete. Everything it
 * opened is closed when it returns, however it returns (a leader term that fails to start must
 * not leave its listener behind for the next term to collide with).
 */
async function serve(
  reconciler: Reconciler,
  signal: AbortSignal,
  opts: { listen: { host: string; port: number } | null; driftIntervalMs: number; once: boolean; endpointFile: string; metrics: ReturnType<typeof createMetrics>; store: EventStore },
): Promise<boolean> {
  const { logger } = reconciler;
  await reconciler.load();
  // From the model the log was just replayed into: a restart changes no value.
  const { store } = opts;
  opts.metrics.readModel(() => reconciler.status, 'sizeBytes' in store ? () => (store as FileEventStore).sizeBytes() : undefined);
  if (opts.once) {
    const results = await reconciler.reconcile();
    return results.some((r) => r.outcome !== 'completed' || r.failedHosts.length > 0);
  }
  const opened: (() => Promise<void> | void)[] = [];
  try {
    let ready = false;
    const loop = startReconcileLoop(reconciler, logger, {
      pollIntervalMs: reconciler.pollIntervalMs,
      maxBackoffMs: 60_000,
      onResults: () => {
        ready = true;
      },
    });
    opened.push(() => loop.stop());
    // A log that could not be written and is writable again: resume now, not after the backoff.
    opts.store.onRecovered?.(() => loop.trigger());
    const readiness = (): Readiness => {
      const health = opts.store.health?.();
      if (health && !health.writable) return { ready: false, reason: `the event log cannot be written since ${health.since}: ${health.reason}` };
      return ready || reconciler.state.lastSeq > 0 ? { ready: true } : { ready: false, reason: 'the first reconcile pass has not finished' };
    };
    if (opts.listen) {
      const server = await startHttpServer({
        ...opts.listen,
        registry: opts.metrics.registry,
        logger,
        ready: readiness,
        onGitHook: () => loop.trigger(),
        ...(process.env.PALISADE_WEBHOOK_SECRET ? { webhookSecret: process.env.PALISADE_WEBHOOK_SECRET } : {}),
        ...(process.env.PALISADE_CONTROL_TOKEN ? { controlToken: process.env.PALISADE_CONTROL_TOKEN } : {}),
        status: reconciler.statusSource,
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
      });
      opened.push(() => server.close());
      await writeFile(opts.endpointFile, JSON.stringify({ url: server.url, pid: process.pid }));
      opened.push(() => rm(opts.endpointFile, { force: true }));
      logger.info({ event: 'ReconcilerStarted', repo: reconciler.git.description, http: server.url }, 'watching for commits');
    } else logger.info({ event: 'ReconcilerStarted', repo: reconciler.git.description }, 'watching for commits');
    opened.push(reconciler.git.watch(() => loop.trigger()));
    if (opts.driftIntervalMs > 0) {
      const drift = reconciler.startDriftMonitor(opts.driftIntervalMs);
      opened.push(() => drift.stop());
    }
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    logger.info({ event: 'ReconcilerStopping' }, 'stopping: letting the current pass finish');
    return false;
  } finally {
    // Newest first: drift monitor and watcher, the endpoint file and listener, then the loop (it lets the current pass finish).
    for (const close of opened.reverse()) await Promise.resolve(close()).catch((e: Error) => logger.warn({ event: 'ShutdownStepFailed' }, `closing failed: ${e.message}`));
  }
}
