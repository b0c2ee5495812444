import type { CheckSpec } from '../checks/check-spec.js';
import { WarmProbers } from '../checks/probes/warm-prober.js';
import { CompileCache } from '../compiler/cache.js';
import type { DriftMonitor } from '../dataplane/drift-monitor.js';
import type { CommitResult, ControlAction, PalisadeEvent } from '../eventlog/events.js';
import { stateLayout } from '../eventlog/layout.js';
import { EventLogError } from '../eventlog/errors.js';
import type { SnapshotStore } from '../eventlog/snapshot.js';
import type { EventStore } from '../eventlog/store.js';
import type { CommitInfo, GitSource } from '../git/source.js';
import type { HostDriver } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import type { PalisadeMetrics } from '../metrics.js';
import { BeforeSnapshots, type BeforeSnapshotStore } from '../rollout/before-snapshots.js';
import type { RolloutDeps } from '../rollout/run-rollout.js';
import { desiredStateOf } from '../state/desired-state.js';
import { isFinished, type ReconcilerState } from '../state/projections.js';
import type { StatusModel, StatusSource } from '../status/model.js';
import { DriftLoop } from './drift-loop.js';
import { resourceChanges, failsafeChecks, planRevision, type FailsafeOptions } from './planner.js';
import { LogProjection } from './projection.js';
import { RevisionSource } from './revision-source.js';
import { RolloutRunner } from './rollout-runner.js';

export interface ReconcilerOptions extends FailsafeOptions {
  git: GitSource;
  store: EventStore;
  logger: Logger;
  stateDir: string;
  drivers: ReadonlyMap<string, HostDriver>;
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
 * Turns new commits into events and rollouts, one revision at a time, oldest first. It wires
 * the parts that do the work: the revision source (Git read and validation), the planner (waves,
 * checks and rulesets, pure), the rollout runner, the drift loop, and the projection of the log.
 * Everything it knows comes from the event log (replayed on start), so a restarted reconciler
 * neither repeats a finished commit nor forgets an unfinished one. A revision whose rollout failed
 * stays pinned as bad: it is not tried again until a newer commit arrives or someone asks for a retry.
 */
export class Reconciler {
  private readonly projection: LogProjection;
  private readonly source: RevisionSource;
  private readonly runner: RolloutRunner;
  private readonly drift: DriftLoop;
  /** The checks of the revision being (or last) rolled out: agents run their host-vantage share. */
  private activeChecks: readonly CheckSpec[];
  /** Outlives revisions: an unchanged policy is compiled once however many commits it appears in. */
  private readonly compileCache = new CompileCache();
  private busy: Promise<CommitResult[]> | null = null;

  constructor(private readonly opts: ReconcilerOptions) {
    this.activeChecks = failsafeChecks(opts);
    this.projection = new LogProjection(opts);
    this.source = new RevisionSource(opts);
    this.drift = new DriftLoop({ drivers: opts.drivers, logger: opts.logger, record: (draft) => this.projection.append([draft]) });
    this.runner = new RolloutRunner({
      store: this.projection.store,
      logger: opts.logger,
      drivers: opts.drivers,
      beforeSnapshots: opts.beforeSnapshots ?? new BeforeSnapshots(stateLayout(opts.stateDir).before),
      git: opts.git,
      pollIntervalMs: this.pollIntervalMs,
      observerFor: (revision) => this.drift.observerFor(revision),
      ...(opts.now ? { now: opts.now } : {}),
      ...(opts.clock ? { clock: opts.clock } : {}),
    });
  }

  /** Every check a host runs for the current revision (failsafe ones first). */
  checksFor(_host: string): readonly CheckSpec[] {
    return this.activeChecks;
  }

  /** Rebuilds the projection: the newest snapshot, then the events after it. */
  load(): Promise<{ fromSnapshot: number }> {
    return this.projection.load();
  }

  get state(): ReconcilerState {
    return this.projection.state;
  }

  /** The status model, current with every event as soon as it is durable. */
  get status(): StatusModel {
    return this.projection.status;
  }

  /** Called with every batch of events as it is folded in, in sequence order. */
  subscribe(listener: (events: readonly PalisadeEvent[]) => void): () => void {
    return this.projection.subscribe(listener);
  }

  /** The status model with the log behind it: what the HTTP API and the page read. */
  get statusSource(): StatusSource {
    return { model: () => this.status, read: (since) => this.projection.store.read(since), subscribe: (listener) => this.subscribe(listener) };
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
      await this.projection.append([{ type: 'RolloutControl', revision: latest.revision, key: `${latest.revision}:retry:${latest.attempt + 1}`, action, by }]);
      this.opts.logger.info({ event: 'RolloutControl', action, by, revision: latest.revision }, `retry of ${latest.revision.slice(0, 8)} requested`);
      return latest.revision;
    }
    const revision = this.runner.active;
    if (!revision) throw new ControlError('NOTHING_TO_CONTROL', `nothing to ${action}: no rollout is running`);
    await this.projection.append([{ type: 'RolloutControl', revision, key: `${revision}:${action}:${this.state.lastSeq + 1}`, action, by }]);
    this.runner.send({ type: action === 'pause' ? 'PAUSE' : action === 'resume' ? 'RESUME' : 'ABORT' });
    return revision;
  }

  startDriftMonitor(intervalMs: number): DriftMonitor {
    return this.drift.start(intervalMs);
  }

  private latestRevision() {
    let last = null;
    for (const r of this.state.revisions.values()) if (r.observedAt) last = r;
    return last;
  }

  /**
   * Stops the running rollout at once (this process is no longer the leader): no host starts
   * another step and nothing more is recorded; the next leader resumes from the log.
   */
  interrupt(reason: Error): void {
    this.runner.interrupt(reason);
  }

  private async pass(): Promise<CommitResult[]> {
    // Nothing starts while the log cannot record it; the store says when it can again.
    const health = this.opts.store.health?.();
    if (health && !health.writable) throw new EventLogError('EVENTLOG_IO', health.reason);
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
    for (const r of [...this.state.revisions.values()].filter((r) => r.observedAt && !isFinished(r))) {
      results.push(await this.processRevision({ oid: r.revision, parent: null, author: r.author ?? '', message: r.message ?? '', committedAt: r.observedAt ?? '' }, false));
    }
    const lastSeen = this.latestRevision()?.revision ?? null;
    const since = await this.opts.git.commitsSince(lastSeen);
    if (since.rewritten && lastSeen) {
      const newHead = since.commits.at(-1)?.oid ?? '';
      await this.projection.append([{ type: 'HistoryRewritten', revision: newHead, key: `${lastSeen}:rewritten:${newHead}`, previousHead: lastSeen, newHead }]);
      this.opts.logger.warn({ event: 'HistoryRewritten', previousHead: lastSeen, newHead }, 'history was rewritten (force-push): the new tip is diffed against the last applied state');
    }
    const pending = since.commits.filter((c) => !isFinished(this.state.revisions.get(c.oid)));
    for (const [i, commit] of pending.entries()) {
      results.push(await this.processRevision(commit, i < pending.length - 1));
      await this.projection.maybeSnapshot();
    }
    return results;
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
    const revision = commit.oid;
    const log = this.opts.logger.child({ revision });
    const noticed = performance.now();
    // Reading the commit needs nothing from the log: it runs while CommitObserved is made durable.
    const reading = this.source.read(revision);
    reading.catch(() => undefined);
    if (!this.state.revisions.get(revision)?.observedAt) {
      await this.projection.append([
        { type: 'CommitObserved', revision, key: `${revision}:observed`, parent: commit.parent, author: commit.author, message: commit.message, committedAt: commit.committedAt },
      ]);
      log.info({ event: 'CommitObserved', author: commit.author, message: commit.message.split('\n')[0] }, 'new commit');
    }

    const read = await reading;
    if (!read.valid) {
      const { errors } = read;
      await this.projection.append([{ type: 'CommitRejected', revision, key: `${revision}:rejected`, errors }]);
      log.error({ event: 'CommitRejected', errors: errors.length }, `commit rejected, nothing applied: ${errors.length} error(s)`);
      for (const e of errors) log.error({ event: 'ValidationError', file: e.file, line: e.line, col: e.col }, `${e.file}:${e.line}:${e.col}: ${e.message}`);
      return { revision, outcome: 'rejected', failedHosts: [] };
    }
    for (const w of read.warnings) log.warn({ event: 'ValidationWarning', file: w.file, line: w.line }, `${w.file}:${w.line}:${w.col}: ${w.message}`);
    const { config } = read;

    const desired = desiredStateOf(read.resources);
    if (this.state.desiredRevision !== revision) {
      const changes = resourceChanges(this.state.resources, read.resources);
      await this.projection.append([{ type: 'ResourcesChanged', revision, key: `${revision}:resources`, base: this.state.desiredRevision, changes }]);
      log.info({ event: 'ResourcesChanged', changes: changes.map((c) => `${c.change} ${c.key}`) }, `${changes.length} resource(s) changed`);
    }
    this.opts.metrics?.reconcileDuration.observe((performance.now() - noticed) / 1000);

    const progress = this.state.revisions.get(revision)!;
    if (newerKnown && config.onNewCommit === 'supersede' && !progress.waves) {
      // A newer commit is already waiting: rolling this one out would only be undone by it.
      await this.projection.append([{ type: 'RolloutFinished', revision, key: `${revision}:rollout-finished`, outcome: 'superseded', failedHosts: [], durationMs: 0 }]);
      log.info({ event: 'RolloutFinished', outcome: 'superseded' }, 'superseded by a newer commit before it started: no host touched');
      return { revision, outcome: 'superseded', failedHosts: [] };
    }

    const plan = planRevision({ desired, config, hosts: [...this.opts.drivers.keys()], waves: progress.waves, failsafe: this.opts, compileCache: this.compileCache });
    this.activeChecks = plan.checks;
    try {
      // A copy: the projection folds the rollout's events into `progress` while it runs.
      return await this.runner.run(revision, plan, config, structuredClone(progress), probers);
    } finally {
      // A fold that failed mid-rollout (a failed read of a gap) left the projection behind the log.
      await this.projection.catchUp();
    }
  }
}
