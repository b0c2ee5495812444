import type { EtcdClient } from './client.js';
import { EtcdStoreError } from './errors.js';

/** Writes that only the current leader may make compare the leader key's create revision. */
export interface Fence {
  key: string;
  createRevision: string;
}

/** A put that succeeds only while `fence` holds; without a fence a plain put. Returns the revision. */
export async function fencedPut(etcd: EtcdClient, key: string, value: string, fence: Fence | undefined): Promise<string> {
  if (!fence) return etcd.put(key, value);
  const res = await etcd.txn([{ key: fence.key, createRevision: fence.createRevision }], [{ put: key, value }]);
  if (!res.succeeded) throw new EtcdStoreError('ETCD_NOT_LEADER', `not written: this reconciler is no longer the leader (fencing revision ${fence.createRevision}); ${key} is left to the new leader`);
  return res.revision;
}
