import { CheckSpec, SSH_FAILSAFE_CHECK } from '../checks/check-spec.js';
import { WarmProbers } from '../checks/probes/warm-prober.js';
import { compileHostIn } from '../compiler/compile.js';
import { CompileCache } from '../compiler/cache.js';
import { CompileContext } from '../compiler/context.js';
import { renderNft, rulesetHash } from '../dataplane/index.js';
import { createDriftMonitor, type DriftMonitor } from '../dataplane/drift-monitor.js';
import type { EventDraft, ResourceChange } from '../eventlog/events.js';
import { stateLayout } from '../eventlog/layout.js';
import type { EventStore } from '../eventlog/store.js';
import type { CommitInfo, GitSource } from '../git/source.js';
import type { HostResult } from '../../machines/host.js';
import type { HostDriver, HostInterface, Ruleset } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import type { PalisadeMetrics } from '../metrics.js';
import type { FileCache } from '../model/load.js';
import { readRepository, type PolicyRepository } from '../repository/repository.js';
import { BeforeSnapshots, type BeforeSnapshotStore } from '../rollout/before-snapshots.js';
import { fleetOf, resolveWaves, waveFailureBudgets, type RolloutConfig } from '../rollout/rollout-config.js';
import { startRollout, type RolloutDeps, type RolloutHandle } from '../rollout/run-rollout.js';
import { desiredStateOf, resourceKey } from '../state/desired-state.js';
import { replay, type SnapshotStore } from '../eventlog/snapshot.js';
import { applyEvent, emptyReconcilerState, isFinished, project, reconcilerProjection, type ReconcilerState } from '../state/projections.js';

export interface ReconcilerOptions {
  git: GitSource;
  store: EventStore;
  logger: Logger;
  stateDir: string;
  drivers: ReadonlyMap<string, HostDriver>;
  /** Where the hosts' own feed lives (`host:port`), checked from every host as a failsafe. */
  feedEndpoint?: { host: string; port: number };
  /**
   * The checks that are always on, before the repository's own; their failure at baseline means
   * a host is unreachable. Default: SSH from the management network.
   */
  failsafeChecks?: readonly CheckSpec[];
  /** How often a running rollout looks for a newer commit (supersede/queue). */
  pollIntervalMs?: number;
  /** Clock hooks for tests and benchmarks. */
  now?: RolloutDeps['now'];
  clock?: RolloutDeps['clock'];
  /** Where what each host held before a revision is kept (default: files under the state directory). */
  beforeSnapshots?: BeforeSnapshotStore;
  /** Snapshots of the projection, so a restart replays only the events since the last one. */
  snapshots?: SnapshotStore;
  /** Prometheus metrics to keep current (git diff and reconcile durations, git errors). */
  metrics?: Pick<PalisadeMetrics, 'diffDuration' | 'reconcileDuration' | 'gitErrors'>;
  /** Events between snapshots (default 10,000). */
  snapshotEvery?: number;
}

export type CommitOutcome = 'completed' | 'halted' | 'rolledBack' | 'aborted' | 'superseded' | 'rejected';

export interface CommitResult {
  revision: string;
  outcome: CommitOutcome;
  failedHosts: string[];
}

export type ControlAction = 'pause' | 'resume' | 'abort' | 'retry';

export class ControlError extends Error {
  constructor(
    readonly code: 'NOTHING_TO_CONTROL' | 'RETRY_NOT_LATEST',
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/**
 * Turns new commits into events and rollouts, one revision at a time, oldest first. Everything
 * it knows comes from the event log (replayed on start), so a restarted reconciler neither
 * repeats a finished commit nor forgets an unfinished one. A revision whose rollout failed stays
 * pinned as bad: it is not tried again until a newer commit arrives or someone asks for a retry.
 */
export class Reconciler {
  private projection: ReconcilerState = emptyReconcilerState();
  private snapshotSeq = 0;
  /**
   * What each host holds as far as this process has seen it applied, from which revision, and the
   * kernel's listing right after: what drift is measured against.
   */
  private readonly held = new Map<string, { text: string | null; revision: string; listing: string | null }>();
  private drift: DriftMonitor | null = null;
  /** The checks of the revision being (or last) rolled out: agents run their host-vantage share. */
  private activeChecks: readonly CheckSpec[];
  /** Outlives revisions: an unchanged policy is compiled once however many commits it appears in. */
  private readonly compileCache = new CompileCache();
  /**
   * The policy files of the last revision read. The next revision is this plus `git diff`, and
   * unchanged files keep their buffers, so the model re-parses only what changed.
   */
  private tree: { revision: string; files: Map<string, Uint8Array> } | null = null;
  private readonly fileCache: FileCache = new WeakMap();
  /** Hosts with a rollout step in flight, and the ruleset going onto them. */
  private readonly inFlight = new Map<string, string | null>();
  private busy: Promise<CommitResult[]> | null = null;
  private active: { revision: string; handle: RolloutHandle } | null = null;

  private readonly beforeSnapshots: BeforeSnapshotStore;

  constructor(private readonly opts: ReconcilerOptions) {
    this.activeChecks = this.failsafeChecks();
    this.beforeSnapshots = opts.beforeSnapshots ?? new BeforeSnapshots(stateLayout(opts.stateDir).before);
  }

  /** Every check a host runs for the current revision (failsafe ones first). */
  checksFor(_host: string): readonly CheckSpec[] {
    return this.activeChecks;
  }

  /** Rebuilds the projection: the newest snapshot, then the events after it. */
  async load(): Promise<{ fromSnapshot: number }> {
    const { state, fromSnapshot } = await replay(this.opts.store, reconcilerProjection, this.opts.snapshots, { every: this.snapshotEvery });
    this.projection = state;
    this.snapshotSeq = Math.max(fromSnapshot, this.projection.lastSeq);
    return { fromSnapshot };
  }

  private get snapshotEvery() {
    return this.opts.snapshotEvery ?? 10_000;
  }

  private async maybeSnapshot(): Promise<void> {
    if (!this.opts.snapshots || this.projection.lastSeq - this.snapshotSeq < this.snapshotEvery) return;
    const p = reconcilerProjection;
    try {
      await this.opts.snapshots.save({ projection: p.name, version: p.version, seq: this.projection.lastSeq, state: p.encode!(this.projection) });
      this.snapshotSeq = this.projection.lastSeq;
    } catch (e) {
      // A snapshot is a cache of the log: failing to write one costs replay time, nothing else.
      this.opts.logger.warn({ event: 'SnapshotFailed', seq: this.projection.lastSeq }, `writing a snapshot failed: ${(e as Error).message}`);
    }
  }

  get state(): ReconcilerState {
    return this.projection;
  }

  get logger(): Logger {
    return this.opts.logger;
  }

  get git(): GitSource {
    return this.opts.git;
  }

  get pollIntervalMs(): number {
    return this.opts.pollIntervalMs ?? 1000;
  }


  /** Processes every commit not yet finished. Concurrent calls share one pass. */
  reconcile(): Promise<CommitResult[]> {
    this.busy ??= this.pass().finally(() => {
      this.busy = null;
    });
    return this.busy;
  }

  /**
   * Operator control. pause/resume/abort act on the running rollout; retry re-opens the newest
   * revision if its rollout did not complete (the caller triggers a pass afterwards).
   */
  async control(action: ControlAction, by: string): Promise<string> {
    if (action === 'retry') {
      const latest = this.latestRevision();
      if (!latest || !isFinished(latest) || latest.rejected || latest.outcome === 'completed') {
        throw new ControlError('NOTHING_TO_CONTROL', 'nothing to retry: the newest revision is not a failed rollout');
      }
      await this.append([{ type: 'RolloutControl', revision: latest.revision, key: `${latest.revision}:retry:${latest.attempt + 1}`, action, by }]);
      this.opts.logger.info({ event: 'RolloutControl', action, by, revision: latest.revision }, `retry of ${latest.revision.slice(0, 8)} requested`);
      return latest.revision;
    }
    if (!this.active) throw new ControlError('NOTHING_TO_CONTROL', `nothing to ${action}: no rollout is running`);
    const { revision, handle } = this.active;
    await this.append([{ type: 'RolloutControl', revision, key: `${revision}:${action}:${this.projection.lastSeq + 1}`, action, by }]);
    handle.send({ type: action === 'pause' ? 'PAUSE' : action === 'resume' ? 'RESUME' : 'ABORT' });
    return revision;
  }

  private latestRevision() {
    let last = null;
    for (const r of this.projection.revisions.values()) if (r.observedAt) last = r;
    return last;
  }

  /** A revision's policy files: the last revision's plus what `git diff` says changed, or a full read. */
  private async filesOf(revision: string): Promise<{ path: string; content: Uint8Array }[]> {
    const { git } = this.opts;
    let files: Map<string, Uint8Array> | null = null;
    if (this.tree && this.tree.revision !== revision) {
      const started = performance.now();
      const changes = await git.diff(this.tree.revision, revision).catch((e: unknown) => {
        // The base vanished (force-push, pruned mirror): read the revision whole instead.
        this.opts.logger.warn({ event: 'GitDiffFailed', revision, base: this.tree?.revision }, `diff against the last read revision failed, reading the whole tree: ${(e as Error).message}`);
        return null;
      });
      if (changes) {
        this.opts.metrics?.diffDuration.observe((performance.now() - started) / 1000);
        files = new Map(this.tree.files);
        for (const c of changes) {
          if (c.change === 'removed') files.delete(c.path);
          else files.set(c.path, c.content!);
        }
      }
    } else if (this.tree) files = this.tree.files;
    files ??= new Map((await git.readFiles(revision)).map((f) => [f.path, f.content]));
    this.tree = { revision, files };
    return [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, content]) => ({ path, content }));
  }

  private async pass(): Promise<CommitResult[]> {
    try {
      return await this.passOnce();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('GIT_')) this.opts.metrics?.gitErrors.inc({ code });
      throw e;
    }
  }

  private async passOnce(): Promise<CommitResult[]> {
    const results: CommitResult[] = [];
    // An interrupted (or retried) revision is resumed before anything newer.
    for (const r of [...this.projection.revisions.values()].filter((r) => r.observedAt && !isFinished(r))) {
      results.push(await this.processRevision({ oid: r.revision, parent: null, author: r.author ?? '', message: r.message ?? '', committedAt: r.observedAt ?? '' }, false));
    }
    const lastSeen = this.latestRevision()?.revision ?? null;
    const since = await this.opts.git.commitsSince(lastSeen);
    if (since.rewritten && lastSeen) {
      const newHead = since.commits.at(-1)?.oid ?? '';
      await this.append([{ type: 'HistoryRewritten', revision: newHead, key: `${lastSeen}:rewritten:${newHead}`, previousHead: lastSeen, newHead }]);
      this.opts.logger.warn({ event: 'HistoryRewritten', previousHead: lastSeen, newHead }, 'history was rewritten (force-push): the new tip is diffed against the last applied state');
    }
    const pending = since.commits.filter((c) => !isFinished(this.projection.revisions.get(c.oid)));
    for (const [i, commit] of pending.entries()) {
      results.push(await this.processRevision(commit, i < pending.length - 1));
      await this.maybeSnapshot();
    }
    return results;
  }

  private async append(drafts: readonly EventDraft[]) {
    const events = await this.opts.store.append(drafts);
    for (const e of events) applyEvent(this.projection, e);
    return events;
  }

  /**
   * The revision's warm probers start now, while its files are read and compiled, so the first
   * baseline check does not wait for them; they end with the revision.
   */
  private async processRevision(commit: CommitInfo, newerKnown: boolean): Promise<CommitResult> {
    const probers = new WarmProbers();
    for (const d of this.opts.drivers.values()) d.warmUp?.(probers);
    try {
      return await this.rollOutRevision(commit, newerKnown, probers);
    } finally {
      await probers.close();
    }
  }

  private async rollOutRevision(commit: CommitInfo, newerKnown: boolean, probers: WarmProbers): Promise<CommitResult> {
    const { logger } = this.opts;
    const revision = commit.oid;
    const log = logger.child({ revision });
    if (!this.projection.revisions.get(revision)?.observedAt) {
      await this.append([
        { type: 'CommitObserved', revision, key: `${revision}:observed`, parent: commit.parent, author: commit.author, message: commit.message, committedAt: commit.committedAt },
      ]);
      log.info({ event: 'CommitObserved', author: commit.author, message: commit.message.split('\n')[0] }, 'new commit');
    }

    const noticed = performance.now();
    const repository = readRepository(await this.filesOf(revision), { fileCache: this.fileCache });
    const { errors } = repository;
    if (errors.length > 0 || !repository.rollout) {
      await this.append([{ type: 'CommitRejected', revision, key: `${revision}:rejected`, errors: errors.map((e) => ({ ...e })) }]);
      log.error({ event: 'CommitRejected', errors: errors.length }, `commit rejected, nothing applied: ${errors.length} error(s)`);
      for (const e of errors) log.error({ event: 'ValidationError', file: e.file, line: e.line, col: e.col }, `${e.file}:${e.line}:${e.col}: ${e.message}`);
      return { revision, outcome: 'rejected', failedHosts: [] };
    }
    for (const w of repository.warnings) log.warn({ event: 'ValidationWarning', file: w.file, line: w.line }, `${w.file}:${w.line}:${w.col}: ${w.message}`);
    const config = repository.rollout;

    const desired = desiredStateOf(repository.resources);
    if (this.projection.desiredRevision !== revision) {
      const changes = diffResources(this.projection, repository.resources);
      await this.append([{ type: 'ResourcesChanged', revision, key: `${revision}:resources`, base: this.projection.desiredRevision, changes }]);
      log.info({ event: 'ResourcesChanged', changes: changes.map((c) => `${c.change} ${c.key}`) }, `${changes.length} resource(s) changed`);
    }
    this.opts.metrics?.reconcileDuration.observe((performance.now() - noticed) / 1000);

    const progress = this.projection.revisions.get(revision)!;
    if (newerKnown && config.onNewCommit === 'supersede' && !progress.waves) {
      // A newer commit is already waiting: rolling this one out would only be undone by it.
      await this.append([{ type: 'RolloutFinished', revision, key: `${revision}:rollout-finished`, outcome: 'superseded', failedHosts: [], durationMs: 0 }]);
      log.info({ event: 'RolloutFinished', outcome: 'superseded' }, 'superseded by a newer commit before it started: no host touched');
      return { revision, outcome: 'superseded', failedHosts: [] };
    }

    const waves = progress.waves ?? resolveWaves(config, fleetOf(desired, [...this.opts.drivers.keys()]));
    // Parsed endpoints and selector members are the same for every host of the revision.
    this.compileCache.rotate();
    const compileContext = new CompileContext(desired, this.compileCache);
    const checks = this.checksOf(config);
    this.activeChecks = checks.all;
    const handle = startRollout(
      revision,
      waves,
      config,
      waveFailureBudgets(config, waves),
      {
        store: this.opts.store,
        logger,
        drivers: this.opts.drivers,
        snapshots: this.beforeSnapshots,
        rulesetFor: (host, interfaces) => rulesetFor(compileContext, host, interfaces),
        checksFor: () => checks.all,
        reachabilityChecks: checks.reachability,
        attempt: progress.attempt,
        probers,
        observer: {
          applying: (host, ruleset) => this.inFlight.set(host, ruleset.text || null),
          settled: (host, result) => this.noteSettled(host, result, revision),
        },
        ...(this.opts.now ? { now: this.opts.now } : {}),
        ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      },
      progress.waves ? progress : undefined,
    );
    this.active = { revision, handle };
    const watcher = config.onNewCommit === 'supersede' ? this.watchForNewerCommit(revision, handle) : null;
    try {
      const output = await handle.done;
      await this.beforeSnapshots.discard(revision).catch((e: Error) => logger.warn({ event: 'SnapshotCleanupFailed', revision }, `removing the before-snapshots failed: ${e.message}`));
      return { revision, outcome: output.outcome, failedHosts: output.failedHosts };
    } finally {
      watcher?.stop();
      this.active = null;
      // The rollout appended its own events; fold them in.
      this.projection = project(await this.opts.store.read(this.projection.lastSeq), this.projection);
    }
  }

  /**
   * Reads every nft-driven host's table back on an interval; a table someone changed by hand is
   * recorded (`DriftDetected`) and put back. Hosts are watched once this process has applied or
   * restored them, and never while a rollout step is in flight there.
   */
  private noteSettled(host: string, result: HostResult, revision: string): void {
    const text = this.inFlight.get(host);
    if (text === undefined || (result !== 'confirmed' && result !== 'rolledBack')) {
      this.inFlight.delete(host);
      if (result === 'failed') this.held.delete(host);
      return;
    }
    // The host stays "in flight" (unwatched) until its listing is read back.
    void this.opts.drivers
      .get(host)!
      .current()
      .then(
        (listing) => {
          this.held.set(host, { text, revision, listing });
          if (text !== null && listing !== null) this.drift?.noteApplied(host, text, listing);
        },
        () => this.held.delete(host),
      )
      .finally(() => this.inFlight.delete(host));
  }

  startDriftMonitor(intervalMs: number): DriftMonitor {
    const hosts = new Map(
      [...this.opts.drivers]
        .filter(([, d]) => d.nft)
        .map(([name, d]) => [name, { nft: d.nft!, desired: () => (this.inFlight.has(name) ? null : (this.held.get(name)?.text ?? null)) }] as const),
    );
    const monitor = createDriftMonitor({
      hosts,
      intervalMs,
      restore: true,
      onDrift: (host, d) => {
        const revision = this.held.get(host)?.revision ?? 'unknown';
        const details = d.restoreError ? `${d.difference}; restore failed: ${d.restoreError.message}` : d.difference;
        this.opts.logger[d.restored ? 'warn' : 'error']({ event: 'DriftDetected', host, revision, restored: d.restored }, `${host}: table changed outside Palisade (${details})${d.restored ? '; restored' : ''}`);
        void this.append([{ type: 'DriftDetected', revision, key: `${revision}:drift:${host}:${Date.now()}`, host, details, restored: d.restored }]).catch((e: Error) =>
          this.opts.logger.error({ event: 'DriftDetected', host }, `recording drift failed: ${e.message}`),
        );
      },
      onError: (host, e) => this.opts.logger.warn({ event: 'DriftCheckFailed', host }, `drift check of ${host} failed: ${e.message}`),
    });
    for (const [host, h] of this.held) if (h.text !== null && h.listing !== null) monitor.noteApplied(host, h.text, h.listing);
    this.drift = monitor;
    return {
      ...monitor,
      stop: async () => {
        this.drift = null;
        await monitor.stop();
      },
    };
  }

  /** Supersede: a newer commit ends the running rollout once its in-flight hosts settle. */
  private watchForNewerCommit(revision: string, handle: RolloutHandle) {
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    const look = async () => {
      try {
        const head = await this.opts.git.head();
        if (!stopped && head && head !== revision) {
          this.opts.logger.info({ event: 'NewerCommit', revision, newer: head }, `newer commit ${head.slice(0, 8)}: superseding once in-flight hosts settle`);
          handle.send({ type: 'SUPERSEDE' });
          return;
        }
      } catch (e) {
        this.opts.logger.warn({ event: 'GitPollFailed', revision }, `looking for newer commits failed: ${(e as Error).message}`);
      }
      if (!stopped) timer = setTimeout(look, this.opts.pollIntervalMs ?? 1000);
    };
    timer = setTimeout(look, this.opts.pollIntervalMs ?? 1000);
    return {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      },
    };
  }

  /**
   * The always-on failsafe checks (SSH from the management network; each host's path to the
   * feed it is configured from) followed by the repository's declared checks.
   */
  private checksOf(config: RolloutConfig): { all: CheckSpec[]; reachability: Set<string> } {
    const failsafe = this.failsafeChecks();
    const names = new Set(failsafe.map((c) => c.name));
    const reachability = new Set((this.opts.failsafeChecks ?? [SSH_FAILSAFE_CHECK]).map((c) => c.name));
    return { all: [...failsafe, ...config.checks.filter((c) => !names.has(c.name))], reachability };
  }

  private failsafeChecks(): CheckSpec[] {
    const failsafe = [...(this.opts.failsafeChecks ?? [SSH_FAILSAFE_CHECK])];
    const feed = this.opts.feedEndpoint;
    if (feed) failsafe.push(CheckSpec.parse({ name: 'path-to-feed', kind: 'tcp', vantage: 'host', target: feed.host, port: feed.port }));
    return failsafe;
  }
}

/** A host's ruleset in a revision; `context` is prepared once per revision and shared by its hosts. */
export function rulesetFor(context: CompileContext, host: string, interfaces: HostInterface[]): Ruleset {
  const program = compileHostIn(context, { node: host, interfaces });
  const text = renderNft(program);
  return { program, text, hash: rulesetHash(text) };
}

function diffResources(p: ReconcilerState, next: PolicyRepository['resources']): ResourceChange[] {
  const changes: ResourceChange[] = [];
  const seen = new Set<string>();
  for (const { resource, source } of next) {
    const key = resourceKey(resource);
    seen.add(key);
    const before = p.resources.get(key);
    if (!before) changes.push({ key, change: 'added', file: source.file, resource, source });
    else if (JSON.stringify(before.resource) !== JSON.stringify(resource)) changes.push({ key, change: 'modified', file: source.file, resource, source });
  }
  for (const [key, before] of p.resources) if (!seen.has(key)) changes.push({ key, change: 'removed', file: before.source.file });
  return changes;
}
