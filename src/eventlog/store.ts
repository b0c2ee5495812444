import type { EventDraft, PalisadeEvent } from './events.js';

/**
 * The append-only event log. Implementations: the embedded file store (default) and, at
 * scale, etcd. `append` is durable when it resolves; drafts whose `key` is already in the log
 * are skipped (not appended twice), so work redone after a crash is harmless.
 */
export interface EventStore {
  append(drafts: readonly EventDraft[]): Promise<PalisadeEvent[]>;
  /** Events with `seq > since` (all when omitted), in order. */
  read(since?: number): Promise<PalisadeEvent[]>;
  /** Highest `seq` in the log, 0 when empty. */
  head(): Promise<number>;
  /** Whether appends can succeed now, and if not why (stores that cannot tell leave it out). */
  health?(): StoreHealth;
  /** Called whenever the store becomes writable again after a failure. */
  onRecovered?(listener: () => void): void;
  close(): Promise<void>;
}

export type StoreHealth = { writable: true } | { writable: false; reason: string; since: string };
