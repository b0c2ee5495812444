import type { Snapshot, SnapshotStore } from '../eventlog/snapshot.js';
import type { EtcdEventStore } from './event-store.js';

interface Body {
  projection: string;
  version: number;
  state: unknown;
}

/**
 * Projection snapshots for the etcd event log, stored as the log's own snapshot: saving one
 * folds the events it covers into it and deletes them, which is what keeps the log in etcd
 * bounded (etcd 3.4 compacts nothing by itself). A reconciler that takes over loads the snapshot
 * and replays only the events after it.
 */
export function logSnapshots(store: EtcdEventStore): SnapshotStore {
  return {
    async load<S>(projection: string): Promise<Snapshot<S> | null> {
      const snap = await store.snapshot();
      const body = snap?.state as Body | undefined;
      if (!snap || body?.projection !== projection) return null;
      return { projection, version: body.version, seq: snap.seq, state: body.state as S };
    },
    async save<S>(snapshot: Snapshot<S>): Promise<void> {
      await store.truncate(snapshot.seq, { projection: snapshot.projection, version: snapshot.version, state: snapshot.state } satisfies Body);
    },
  };
}
