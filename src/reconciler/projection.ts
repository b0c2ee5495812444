import type { EventDraft, PalisadeEvent } from '../eventlog/events.js';
import { replay, type Projection, type SnapshotStore } from '../eventlog/snapshot.js';
import type { EventStore } from '../eventlog/store.js';
import type { Logger } from '../log/logger.js';
import { applyEvent, emptyReconcilerState, reconcilerProjection, type ReconcilerState } from '../state/projections.js';
import { applyStatusEvent, emptyStatus, foldStatus, type StatusModel } from '../status/model.js';

export interface LogProjectionOptions {
  store: EventStore;
  logger: Logger;
  /** Snapshots of the projection, so a restart replays only the events since the last one. */
  snapshots?: SnapshotStore;
  /** Events between snapshots (default 10,000). */
  snapshotEvery?: number;
}

interface Projected {
  reconciler: ReconcilerState;
  /** Null only right after decoding a snapshot written before the status model existed. */
  status: StatusModel | null;
}

/**
 * Both folds in one snapshot (the etcd log keeps a single one, and deletes the events it
 * covers). A snapshot from before the status model decodes with `status: null`.
 */
const projected: Projection<Projected> = {
  name: reconcilerProjection.name,
  version: reconcilerProjection.version,
  init: () => ({ reconciler: emptyReconcilerState(), status: emptyStatus() }),
  apply: (s, e) => {
    applyEvent(s.reconciler, e);
    if (s.status) applyStatusEvent(s.status, e);
    return s;
  },
  encode: (s) => ({ ...(reconcilerProjection.encode!(s.reconciler) as object), status: s.status }),
  decode: (json) => {
    const { status, ...reconciler } = json as { status?: StatusModel };
    return { reconciler: reconcilerProjection.decode!(reconciler), status: status ?? null };
  },
};

/**
 * The reconciler's view of the event log, kept current: rebuilt on start from the newest snapshot
 * plus the events after it, then folded forward with every event as soon as it is durable —
 * those this process appends (through `append`, or the rollout through `store`) and any it reads
 * back. It holds the reconciler's own state and the status model that the API, the page, the
 * metrics and the notifiers read; subscribers see every event once, in sequence order.
 */
export class LogProjection {
  private current: { reconciler: ReconcilerState; status: StatusModel } = { reconciler: emptyReconcilerState(), status: emptyStatus() };
  private snapshotSeq = 0;
  private folding: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(events: readonly PalisadeEvent[]) => void>();
  /** The log, with every append folded in as soon as it is durable: what the rollout records through. */
  readonly store: EventStore;

  constructor(private readonly opts: LogProjectionOptions) {
    const inner = opts.store;
    this.store = {
      append: (drafts) => this.append(drafts),
      read: (since) => inner.read(since),
      head: () => inner.head(),
      close: () => inner.close(),
    };
  }

  get state(): ReconcilerState {
    return this.current.reconciler;
  }

  get status(): StatusModel {
    return this.current.status;
  }

  /** Called with every batch of events folded in, in sequence order. Returns the unsubscribe. */
  subscribe(listener: (events: readonly PalisadeEvent[]) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Rebuilds the projection: the newest snapshot, then the events after it. */
  async load(): Promise<{ fromSnapshot: number }> {
    const { state, fromSnapshot } = await replay(this.opts.store, projected, this.opts.snapshots, { every: this.snapshotEvery });
    // A snapshot older than the status model: fold it from what the log still holds.
    const status = state.status ?? foldStatus((await this.opts.store.read()).filter((e) => e.seq <= state.reconciler.lastSeq));
    this.current = { reconciler: state.reconciler, status };
    this.snapshotSeq = Math.max(fromSnapshot, state.reconciler.lastSeq);
    return { fromSnapshot };
  }

  /** Appends durably, then folds what was appended. */
  async append(drafts: readonly EventDraft[]): Promise<PalisadeEvent[]> {
    const events = await this.opts.store.append(drafts);
    await this.fold(events);
    return events;
  }

  /** Folds in whatever the log holds beyond what was folded (appended by another writer). */
  catchUp(): Promise<void> {
    return this.fold([]);
  }

  /**
   * Concurrent appends can resolve out of order; events are folded strictly in sequence, and a
   * gap is filled by reading the log.
   */
  private fold(events: readonly PalisadeEvent[]): Promise<void> {
    const run = this.folding.then(async () => {
      let fresh = events.filter((e) => e.seq > this.state.lastSeq);
      if (events.length === 0 || (fresh.length > 0 && fresh[0]!.seq !== this.state.lastSeq + 1)) fresh = await this.opts.store.read(this.state.lastSeq);
      if (fresh.length === 0) return;
      for (const e of fresh) projected.apply(this.current, e);
      for (const listener of this.listeners) {
        try {
          listener(fresh);
        } catch (e) {
          this.opts.logger.warn({ event: 'ProjectionListenerFailed' }, `a status listener failed: ${(e as Error).message}`);
        }
      }
    });
    this.folding = run.catch(() => undefined);
    return run;
  }

  private get snapshotEvery() {
    return this.opts.snapshotEvery ?? 10_000;
  }

  async maybeSnapshot(): Promise<void> {
    const seq = this.state.lastSeq;
    if (!this.opts.snapshots || seq - this.snapshotSeq < this.snapshotEvery) return;
    try {
      await this.opts.snapshots.save({ projection: projected.name, version: projected.version, seq, state: projected.encode!(this.current) });
      this.snapshotSeq = seq;
    } catch (e) {
      // A snapshot is a cache of the log: failing to write one costs replay time, nothing else.
      this.opts.logger.warn({ event: 'SnapshotFailed', seq }, `writing a snapshot failed: ${(e as Error).message}`);
    }
  }
}
