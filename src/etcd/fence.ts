import type { EtcdClient } from './client.js';
import { EtcdStoreError } from './errors.js';
import { batchesWithin, checkValue } from './limits.js';

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

/** A put that may share its transaction with others; resolves with the revision it was written at. */
export type PutWriter = (key: string, value: string) => Promise<string>;

interface QueuedPut {
  key: string;
  value: string;
  resolve(revision: string): void;
  reject(e: unknown): void;
}

/**
 * Puts made in the same turn of the event loop (a wave's hosts writing their desired states, or
 * their confirmations) go out as one fenced transaction per batch of ≤ 128 operations and
 * ≤ 1.25 MiB, instead of one transaction each. All puts of a transaction share its revision,
 * which is each key's mod revision (a host's generation), as with a put of its own. Batches are
 * sent one after another, in the order their puts were made; a key put again while queued starts
 * a new batch, so every put gets the revision its own value was written at.
 */
export function batchedFencedPuts(etcd: EtcdClient, fence: Fence | undefined): PutWriter {
  let queue: QueuedPut[] = [];
  let keys = new Set<string>();
  let tail: Promise<void> = Promise.resolve();
  const send = async (batch: QueuedPut[]) => {
    const compare = fence ? [{ key: fence.key, createRevision: fence.createRevision }] : [];
    try {
      const res = await etcd.txn(compare, batch.map((p) => ({ put: p.key, value: p.value })));
      for (const p of batch) {
        if (res.succeeded) p.resolve(res.revision);
        else p.reject(new EtcdStoreError('ETCD_NOT_LEADER', `not written: this reconciler is no longer the leader (fencing revision ${fence?.createRevision}); ${p.key} is left to the new leader`));
      }
    } catch (e) {
      for (const p of batch) p.reject(e);
    }
  };
  const flush = () => {
    const items = queue;
    queue = [];
    keys = new Set();
    if (items.length === 0) return;
    // The fence compare is a list of its own: up to 128 puts share it.
    const batches = batchesWithin(items, () => 1, (p) => p.key.length + Buffer.byteLength(p.value) + 16, 0, 256);
    tail = tail.then(async () => {
      for (const batch of batches) await send(batch);
    });
  };
  return (key, value) => {
    checkValue(key, value);
    if (keys.has(key)) flush();
    return new Promise((resolve, reject) => {
      keys.add(key);
      if (queue.push({ key, value, resolve, reject }) === 1) setImmediate(flush);
    });
  };
}
