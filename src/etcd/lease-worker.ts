import { parentPort, workerData } from 'node:worker_threads';
import { EtcdClient } from './client.js';
import { LEADER } from './keys.js';
import type { FromKeeper, ToKeeper } from './lease-keeper.js';

/**
 * The leader's lease, kept alive on a thread of its own: however long the reconciler's thread
 * is busy (compiling, folding the log, spawning probes), keep-alives go out on time and the
 * leader key is confirmed on time. See lease-keeper.ts.
 */
const port = parentPort!;
const etcd = new EtcdClient((workerData as { endpoints: string[] }).endpoints);
type Lease = ReturnType<EtcdClient['client']['lease']>;
let lease: Lease | null = null;
let watch: NodeJS.Timeout | null = null;
const post = (m: FromKeeper) => port.postMessage(m);

function stop(): void {
  if (watch) clearInterval(watch);
  watch = null;
}

async function release(): Promise<void> {
  stop();
  const l = lease;
  lease = null;
  await l?.revoke().catch(() => undefined);
}

port.on('message', (m: ToKeeper) => {
  switch (m.type) {
    case 'grant': {
      void release().then(async () => {
        const l = etcd.client.lease(m.ttlS, { autoKeepAlive: true });
        lease = l;
        l.on('lost', (e: Error) => {
          if (lease !== l) return;
          stop();
          post({ type: 'lost', why: `lease lost (${e.message})` });
        });
        try {
          post({ type: 'granted', id: await l.grant() });
        } catch (e) {
          if (lease === l) lease = null;
          post({ type: 'grant-failed', message: (e as Error).message });
        }
      });
      return;
    }
    case 'hold': {
      // Confirms the leader key is still ours every TTL/3; gives up once it could not for a whole
      // TTL (before the lease can have expired and a standby taken over).
      let confirmedAt = Date.now();
      stop();
      watch = setInterval(() => {
        etcd.get(LEADER).then(
          (kv) => {
            if (!watch) return;
            if (kv?.createRevision === m.createRevision) confirmedAt = Date.now();
            else {
              stop();
              post({ type: 'lost', why: kv ? `another reconciler holds the leader key since revision ${kv.createRevision}` : 'the leader key is gone' });
            }
          },
          () => {
            if (!watch || Date.now() - confirmedAt < m.ttlS * 1000) return;
            stop();
            post({ type: 'lost', why: `could not confirm leadership with etcd for ${m.ttlS} s (etcd unreachable or without quorum)` });
          },
        );
      }, (m.ttlS * 1000) / 3);
      return;
    }
    case 'release':
      void release().then(() => post({ type: 'released' }));
      return;
    case 'close':
      void release().then(() => {
        etcd.close();
        port.close();
      });
      return;
  }
});
