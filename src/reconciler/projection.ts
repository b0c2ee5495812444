import type { EventDraft, PalisadeEvent } from '../eventlog/events.js';
import { replay, type SnapshotStore } from '../eventlog/snapshot.js';
import type { EventStore } from '../eventlog/store.js';
import type { Logger } from '../log/logger.js';
import { applyEvent, emptyReconcilerState, project, reconcilerProjection, type ReconcilerState } from '../state/projections.js';

export interface LogProjectionOptions {
  store: EventStore;
  logger: Logger;
  /** Snapshots of the projection, so a restart replays only the events since the last one. */
  snapshots?: SnapshotStore;
  /** Events between snapshots (default 10,000). */
  snapshotEvery?: number;
}

/**
 * The reconciler's view of the event log, kept current: rebuilt on start from the newest snapshot
 * plus the events after it, then folded forward with every event this process appends or reads
 * back. Everything the reconciler decides is read from here.
 */
export class LogProjection {
  private projection: ReconcilerState = emptyReconcilerState();
  private snapshotSeq = 0;

  constructor(private readonly opts: LogProjectionOptions) {}

  get state(): ReconcilerState {
    return this.projection;
  }

  /** Rebuilds the projection: the newest snapshot, then the events after it. */
  async load(): Promise<{ fromSnapshot: number }> {
    const { state, fromSnapshot } = await replay(this.opts.store, reconcilerProjection, this.opts.snapshots, { every: this.snapshotEvery });
    this.projection = state;
    this.snapshotSeq = Math.max(fromSnapshot, this.projection.lastSeq);
    return { fromSnapshot };
  }

  /** Appends durably, then folds what was appended. */
  async append(drafts: readonly EventDraft[]): Promise<PalisadeEvent[]> {
    const events = await this.opts.store.append(drafts);
    for (const e of events) applyEvent(this.projection, e);
    return events;
  }

  /** Folds in what others (the rollout's recorder) appended since. */
  async catchUp(): Promise<void> {
    this.projection = project(await this.opts.store.read(this.projection.lastSeq), this.projection);
  }

  private get snapshotEvery() {
    return this.opts.snapshotEvery ?? 10_000;
  }

  async maybeSnapshot(): Promise<void> {
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
}
