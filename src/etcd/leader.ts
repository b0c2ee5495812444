import { backoffDelay } from '../backoff.js';
import type { Logger } from '../log/logger.js';
import { asStoreError, type EtcdClient } from './client.js';
import { EtcdStoreError } from './errors.js';
import type { Fence } from './fence.js';
import { LEADER } from './keys.js';
import { LeaseKeeper } from './lease-keeper.js';

export type { Fence } from './fence.js';

export interface Leadership {
  fence: Fence;
  /** Aborts when this process is no longer (or can no longer prove it is) the leader. */
  signal: AbortSignal;
  /** Steps down: stops renewing and deletes the leader key if it is still ours. */
  resign(): Promise<void>;
}

export interface CampaignOptions {
  /** Who this is, written into the leader key (host:pid). */
  id: string;
  logger: Logger;
  /** Lease TTL: how long a dead leader keeps the key. Default 3 s. */
  ttlS?: number;
  /** Gives up campaigning (shutdown). */
  signal?: AbortSignal;
}

/**
 * Lease-based election on `/palisade/v1/leader`: the key is created only if absent, attached
 * to this process's lease, and its create revision is the fencing token every leader-only
 * write compares. A standby watches the key and campaigns when it disappears (the leader
 * resigned, or its lease expired ≤ TTL after it died).
 *
 * The lease and the leader-key check live on a worker thread (`LeaseKeeper`), so the
 * reconciler's own work never delays a keep-alive. The key is checked every TTL/3, and
 * leadership is given up once it could not be confirmed for a whole TTL — before the lease can
 * have expired and a standby taken over. Fenced writes make any overlap harmless anyway.
 */
export async function campaign(etcd: EtcdClient, opts: CampaignOptions): Promise<Leadership> {
  const ttlS = opts.ttlS ?? 3;
  const log = opts.logger.child({ component: 'leader-election' });
  const keeper = new LeaseKeeper(etcd.endpoints);
  let lastReason = '';
  try {
    for (let attempt = 0; ; attempt++) {
      if (opts.signal?.aborted) throw new EtcdStoreError('ETCD_NOT_LEADER', 'stopped before winning the election');
      try {
        const leaseId = await keeper.grant(ttlS);
        const res = await etcd.txn([{ key: LEADER, absent: true }], [{ put: LEADER, value: JSON.stringify({ id: opts.id, since: new Date().toISOString() }), lease: leaseId }], [{ get: LEADER }]);
        if (res.succeeded) {
          const fence = { key: LEADER, createRevision: res.revision };
          log.info({ event: 'LeaderElected', id: opts.id, fencingRevision: res.revision, leaseTtlS: ttlS }, `this reconciler (${opts.id}) is the leader (fencing revision ${res.revision})`);
          return holdLeadership(etcd, keeper, fence, ttlS, log);
        }
        await keeper.release();
        const holder = res.responses[0]?.kvs[0];
        const reason = `standing by: ${holder ? holder.value.toString() : 'another reconciler'} is the leader`;
        if (reason !== lastReason) log.info({ event: 'Standby' }, reason);
        lastReason = reason;
        await waitForVacancy(etcd, res.revision, ttlS, opts.signal);
      } catch (e) {
        // Whatever etcd answers (no quorum, breaker open, lease refused), campaigning stays the
        // only useful thing to do; the reason is logged so an operator sees why nothing happens.
        const err = asStoreError(e, etcd.endpoints) as Error & { code?: string };
        const reason = `waiting for etcd before campaigning: ${err.message}`;
        if (reason !== lastReason || attempt % 20 === 0) log.warn({ event: 'ElectionWaiting', code: err.code }, reason);
        lastReason = reason;
        await sleep(backoffDelay(attempt + 1, 200, 2000, Math.random), opts.signal);
      }
    }
  } catch (e) {
    await keeper.close();
    throw e;
  }
}

function holdLeadership(etcd: EtcdClient, keeper: LeaseKeeper, fence: Fence, ttlS: number, log: Logger): Leadership {
  const lost = new AbortController();
  keeper.hold(fence.createRevision, ttlS, (why) => {
    if (lost.signal.aborted) return;
    log.warn({ event: 'LeadershipLost', fencingRevision: fence.createRevision }, `no longer the leader: ${why}; stopping the rollout where it is`);
    lost.abort(new EtcdStoreError('ETCD_NOT_LEADER', why));
  });
  return {
    fence,
    signal: lost.signal,
    resign: async () => {
      if (!lost.signal.aborted) lost.abort(new EtcdStoreError('ETCD_NOT_LEADER', 'resigned'));
      await etcd.txn([{ key: fence.key, createRevision: fence.createRevision }], [{ del: fence.key }]).catch(() => undefined);
      await keeper.release().catch(() => undefined);
      await keeper.close();
    },
  };
}

/** Resolves once the leader key is deleted after `revision` (or every TTL, to look again). */
async function waitForVacancy(etcd: EtcdClient, revision: string, ttlS: number, signal?: AbortSignal): Promise<void> {
  const watcher = await etcd.client.watch().key(LEADER).startRevision(String(BigInt(revision) + 1n)).create();
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ttlS * 1000);
      const done = () => (clearTimeout(timer), resolve());
      watcher.on('delete', done);
      watcher.on('error', done);
      signal?.addEventListener('abort', done, { once: true });
    });
  } finally {
    await watcher.cancel().catch(() => undefined);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });
}
