import type { BeforeSnapshotStore } from '../rollout/before-snapshots.js';
import type { EtcdClient } from './client.js';
import { EtcdStoreError } from './errors.js';
import type { Fence } from './fence.js';
import { beforeKey, beforePrefix } from './keys.js';
import { batchesWithin } from './limits.js';

/**
 * Before-snapshots in etcd, for the highly available reconciler: the leader that takes over a
 * rollout finds what every host held before its predecessor applied, and can roll it back.
 * First-wins is a create-only transaction, fenced on the leader key like every leader write.
 */
export class EtcdBeforeSnapshots implements BeforeSnapshotStore {
  /** Snapshots put in the same turn of the event loop (a wave's hosts), written together. */
  private queue: { host: string; revision: string; snapshot: string | null; done: { resolve(): void; reject(e: unknown): void } }[] = [];

  constructor(
    private readonly etcd: EtcdClient,
    private readonly fence?: Fence,
  ) {}

  async get(host: string, revision: string): Promise<{ snapshot: string | null } | undefined> {
    const kv = await this.etcd.get(beforeKey(revision, host));
    return kv ? (JSON.parse(kv.value) as { snapshot: string | null }) : undefined;
  }

  /**
   * Group commit: one transaction creates every queued snapshot when none of them exists yet
   * (the rule: a host's first apply of a revision); otherwise each goes on its own, first wins.
   */
  putIfAbsent(host: string, revision: string, snapshot: string | null): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.queue.push({ host, revision, snapshot, done: { resolve, reject } }) === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const items = this.queue.splice(0);
    const fenced = this.fence ? [{ key: this.fence.key, createRevision: this.fence.createRevision }] : [];
    // The first of a host's snapshots queued together is the one that counts.
    const first = new Map<string, (typeof items)[number]>();
    for (const it of items) if (!first.has(beforeKey(it.revision, it.host))) first.set(beforeKey(it.revision, it.host), it);
    const value = (it: (typeof items)[number]) => JSON.stringify({ snapshot: it.snapshot });
    try {
      // One compare and one put per snapshot; the compares (with the fence's) are the longer list.
      for (const batch of batchesWithin([...first], () => 1, ([key, it]) => key.length * 2 + Buffer.byteLength(value(it)) + 32, fenced.length, 256)) {
        const together =
          batch.length > 1 &&
          (await this.etcd.txn([...batch.map(([key]) => ({ key, absent: true as const })), ...fenced], batch.map(([key, it]) => ({ put: key, value: value(it) }))).then((r) => r.succeeded, () => false));
        if (!together) await Promise.all(batch.map(([, it]) => this.putOne(it.host, it.revision, it.snapshot)));
      }
    } catch (e) {
      for (const it of items) it.done.reject(e);
      return;
    }
    for (const it of items) it.done.resolve();
  }

  private async putOne(host: string, revision: string, snapshot: string | null): Promise<void> {
    const key = beforeKey(revision, host);
    const fenced = this.fence ? [{ key: this.fence.key, createRevision: this.fence.createRevision }] : [];
    const res = await this.etcd.txn([{ key, absent: true }, ...fenced], [{ put: key, value: JSON.stringify({ snapshot }) }]);
    if (res.succeeded || (await this.etcd.get(key))) return;
    throw new EtcdStoreError('ETCD_NOT_LEADER', `before-snapshot of ${host} not written: this reconciler is no longer the leader (fencing revision ${this.fence?.createRevision})`);
  }

  async discard(revision: string): Promise<void> {
    await this.etcd.txn([], [{ del: beforePrefix(revision), prefix: true }]);
  }
}
