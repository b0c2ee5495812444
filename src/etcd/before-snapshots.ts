import type { BeforeSnapshotStore } from '../rollout/before-snapshots.js';
import type { EtcdClient } from './client.js';
import { EtcdStoreError } from './errors.js';
import type { Fence } from './fence.js';
import { beforeKey, beforePrefix } from './keys.js';

/**
 * Before-snapshots in etcd, for the highly available reconciler: the leader that takes over a
 * rollout finds what every host held before its predecessor applied, and can roll it back.
 * First-wins is a create-only transaction, fenced on the leader key like every leader write.
 */
export class EtcdBeforeSnapshots implements BeforeSnapshotStore {
  constructor(
    private readonly etcd: EtcdClient,
    private readonly fence?: Fence,
  ) {}

  async get(host: string, revision: string): Promise<{ snapshot: string | null } | undefined> {
    const kv = await this.etcd.get(beforeKey(revision, host));
    return kv ? (JSON.parse(kv.value) as { snapshot: string | null }) : undefined;
  }

  async putIfAbsent(host: string, revision: string, snapshot: string | null): Promise<void> {
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
