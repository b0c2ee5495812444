export * from './events.js';
export type { EventStore } from './store.js';
export { openFileEventStore, type FileEventStore, type FileEventStoreOptions, type FollowOptions, type TailRecovery } from './file-store.js';
export { EventLogError, isEventLogError, type EventLogErrorCode } from './errors.js';
export { openSnapshotStore, replay, type Projection, type ReplayOptions, type ReplayResult, type Snapshot, type SnapshotStore } from './snapshot.js';
export { stateLayout } from './layout.js';
