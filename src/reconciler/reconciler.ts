import path from 'node:path';
import type { CheckSpec } from '../checks/check-spec.js';
import { compileHost } from '../compiler/index.js';
import { renderNft, rulesetHash } from '../dataplane/index.js';
import type { EventStore } from '../eventlog/store.js';
import type { ResourceChange } from '../eventlog/events.js';
import type { GitSource, CommitInfo } from '../git/source.js';
import type { HostDriver, HostInterface, Ruleset } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import { loadPolicyFiles } from '../model/load.js';
import { BeforeSnapshots } from '../rollout/before-snapshots.js';
import { runRollout, type RolloutSettings } from '../rollout/run-rollout.js';
import { defaultRolloutConfig, parseRolloutConfig, resolveWaves, ROLLOUT_CONFIG_FILE, type FleetHost, type RolloutConfig } from '../rollout/rollout-config.js';
import { desiredStateOf, resourceKey, type DesiredState } from '../state/desired-state.js';
import { applyEvent, emptyProjection, isFinished, project, type Projection } from '../state/projections.js';

export interface ReconcilerOptions {
  git: GitSource;
  store: EventStore;
  logger: Logger;
  stateDir: string;
  drivers: ReadonlyMap<string, HostDriver>;
  checksFor(host: string): readonly CheckSpec[];
  settings: RolloutSettings;
}

export interface CommitResult {
  revision: string;
  outcome: 'completed' | 'halted' | 'aborted' | 'rejected' | 'skipped';
  failedHosts: string[];
}

/**
 * Turns new commits into events and rollouts, one revision at a time, oldest first. Everything
 * it knows comes from the event log (replayed on start), so a restarted reconciler neither
 * repeats a finished commit nor forgets an unfinished one.
 */
export class Reconciler {
  private projection: Projection = emptyProjection();
  private busy: Promise<CommitResult[]> | null = null;

  constructor(private readonly opts: ReconcilerOptions) {}

  /** Rebuilds the projection from the log. */
  async load(): Promise<void> {
    this.projection = project(await this.opts.store.read());
  }

  get state(): Projection {
    return this.projection;
  }

  /** Processes every commit not yet finished. Concurrent calls share one pass. */
  reconcile(): Promise<CommitResult[]> {
    this.busy ??= this.pass().finally(() => {
      this.busy = null;
    });
    return this.busy;
  }

  private lastSeenRevision(): string | null {
    let last: string | null = null;
    for (const r of this.projection.revisions.values()) if (r.observedAt) last = r.revision;
    return last;
  }

  private async pass(): Promise<CommitResult[]> {
    const results: CommitResult[] = [];
    // An interrupted revision (observed, not finished) is resumed before anything newer.
    const unfinished = [...this.projection.revisions.values()].filter((r) => r.observedAt && !isFinished(r));
    for (const r of unfinished) results.push(await this.processRevision({ oid: r.revision, parent: null, author: r.author ?? '', message: r.message ?? '', committedAt: r.observedAt ?? '' }));
    const since = await this.opts.git.commitsSince(this.lastSeenRevision());
    if (since.rewritten) {
      const previousHead = this.lastSeenRevision() ?? '';
      const newHead = since.commits.at(-1)?.oid ?? '';
      await this.append([{ type: 'HistoryRewritten', revision: newHead, key: `${previousHead}:rewritten:${newHead}`, previousHead, newHead }]);
      this.opts.logger.warn({ event: 'HistoryRewritten', previousHead, newHead }, 'history was rewritten (force-push): the new tip is diffed against the last applied state');
    }
    for (const commit of since.commits) {
      if (isFinished(this.projection.revisions.get(commit.oid))) continue;
      results.push(await this.processRevision(commit));
    }
    return results;
  }

  private async append(drafts: Parameters<EventStore['append']>[0]) {
    const events = await this.opts.store.append(drafts);
    for (const e of events) applyEvent(this.projection, e);
    return events;
  }

  private async processRevision(commit: CommitInfo): Promise<CommitResult> {
    const { git, logger } = this.opts;
    const revision = commit.oid;
    const log = logger.child({ revision });
    const existing = this.projection.revisions.get(revision);
    if (!existing?.observedAt) {
      await this.append([
        { type: 'CommitObserved', revision, key: `${revision}:observed`, parent: commit.parent, author: commit.author, message: commit.message, committedAt: commit.committedAt },
      ]);
      log.info({ event: 'CommitObserved', author: commit.author, message: commit.message.split('\n')[0] }, 'new commit');
    }

    const { loaded, rollout } = readRevision(await git.readFiles(revision));
    const errors = [...loaded.errors, ...rollout.errors];
    if (errors.length > 0 || !rollout.config) {
      await this.append([{ type: 'CommitRejected', revision, key: `${revision}:rejected`, errors: errors.map((e) => ({ ...e })) }]);
      log.error({ event: 'CommitRejected', errors: errors.length }, `commit rejected, nothing applied: ${errors.length} error(s)`);
      for (const e of errors) log.error({ event: 'ValidationError', file: e.file, line: e.line, col: e.col }, `${e.file}:${e.line}:${e.col}: ${e.message}`);
      return { revision, outcome: 'rejected', failedHosts: [] };
    }
    for (const w of loaded.warnings) log.warn({ event: 'ValidationWarning', file: w.file, line: w.line }, `${w.file}:${w.line}:${w.col}: ${w.message}`);

    const desired = desiredStateOf(loaded.resources);
    if (!this.projection.revisions.get(revision)?.waves && this.projection.desiredRevision !== revision) {
      const changes = diffResources(this.projection, loaded.resources);
      await this.append([{ type: 'ResourcesChanged', revision, key: `${revision}:resources`, base: this.projection.desiredRevision, changes }]);
      log.info({ event: 'ResourcesChanged', changes: changes.map((c) => `${c.change} ${c.key}`) }, `${changes.length} resource(s) changed`);
    }

    const progress = this.projection.revisions.get(revision);
    const waves = progress?.waves ?? resolveWaves(rollout.config, fleetOf(desired, [...this.opts.drivers.keys()]));
    const output = await runRollout(
      revision,
      waves,
      {
        store: this.opts.store,
        logger,
        drivers: this.opts.drivers,
        snapshots: new BeforeSnapshots(path.join(this.opts.stateDir, 'before')),
        rulesetFor: (host, interfaces) => rulesetFor(desired, host, interfaces),
        checksFor: this.opts.checksFor,
      },
      this.opts.settings,
      progress?.waves ? progress : undefined,
    );
    // The rollout appended its own events; fold them in.
    this.projection = project(await this.opts.store.read(this.projection.lastSeq), this.projection);
    return { revision, outcome: output.outcome, failedHosts: output.failedHosts };
  }
}

export function rulesetFor(desired: DesiredState, host: string, interfaces: HostInterface[]): Ruleset {
  const program = compileHost(desired, { node: host, interfaces });
  const text = renderNft(program);
  return { program, text, hash: rulesetHash(text) };
}

/** Splits a revision's files into the Calico resources and the rollout configuration. */
export function readRevision(files: { path: string; content: Uint8Array }[]): {
  loaded: ReturnType<typeof loadPolicyFiles>;
  rollout: { config: RolloutConfig | null; errors: ReturnType<typeof parseRolloutConfig>['errors'] };
} {
  const configFile = files.find((f) => f.path === ROLLOUT_CONFIG_FILE);
  const loaded = loadPolicyFiles(files.filter((f) => f !== configFile));
  const rollout = configFile ? parseRolloutConfig(new TextDecoder().decode(configFile.content), configFile.path) : { config: defaultRolloutConfig(), errors: [] };
  return { loaded, rollout };
}

/** Hosts with the labels of their HostEndpoints, for wave selectors. */
export function fleetOf(desired: DesiredState, hosts: readonly string[]): FleetHost[] {
  return hosts.map((name) => ({ name, labelSets: desired.hostEndpoints.filter((h) => h.spec.node === name).map((h) => h.metadata.labels) }));
}

function diffResources(p: Projection, next: ReturnType<typeof loadPolicyFiles>['resources']): ResourceChange[] {
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
