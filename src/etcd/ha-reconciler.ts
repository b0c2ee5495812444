import os from 'node:os';
import type { CheckSpec } from '../checks/check-spec.js';
import { driversFromHostsFile } from '../hosts/drivers.js';
import type { HostDriver } from '../hosts/host-driver.js';
import type { HostsFile } from '../hosts/hosts-file.js';
import type { Logger } from '../log/logger.js';
import { EtcdClient, parseStoreUrl } from './client.js';
import { EtcdEventStore } from './event-store.js';
import { batchedFencedPuts } from './fence.js';
import { HostKeyFeed } from './host-feed.js';
import { campaign, type Fence } from './leader.js';
import { RulesetWriter } from './rulesets.js';

/** One term of leadership, handed to whoever builds the reconciler. */
export interface LeaderTerm {
  etcd: EtcdClient;
  /** The event log in etcd; every append is fenced on this term's leadership. */
  store: EtcdEventStore;
  fence: Fence;
  /** Aborts when leadership is lost or the process is stopping: stop the loop and return. */
  signal: AbortSignal;
  /** Aborts (with the reason) only when leadership is lost: stop work in flight at once. */
  lost: AbortSignal;
  /** Host drivers for the hosts file; agent hosts write through this term's fence. */
  drivers(file: HostsFile, checksFor: (host: string) => readonly CheckSpec[]): Map<string, HostDriver>;
}

export interface LeaderElectionOptions {
  /** `etcd://HOST:PORT[,…]`. */
  storeUrl: string;
  logger: Logger;
  /** Process shutdown. */
  signal: AbortSignal;
  /** Run one term and return (`reconcile --once`). */
  once?: boolean;
  leaseTtlS?: number;
  /** Confirm window for agent hosts whose hosts-file entry gives none. */
  confirmMs?: number;
  /** Runs the reconciler while this process leads: build it on `term.store`, return when `term.signal` aborts. */
  term(term: LeaderTerm): Promise<void>;
}

/**
 * `palisade reconcile --store etcd://…`: campaign, run the reconciler while leader, stand by
 * otherwise. A new leader rebuilds everything from the event log in etcd, so a rollout the
 * previous leader left half done is resumed, not restarted; fenced writes keep a deposed leader
 * (paused, partitioned) from appending events or writing to hosts after the takeover.
 */
export async function runWithLeaderElection(opts: LeaderElectionOptions): Promise<void> {
  const etcd = new EtcdClient(parseStoreUrl(opts.storeUrl));
  const id = `${os.hostname()}:${process.pid}`;
  const log = opts.logger.child({ component: 'ha' });
  try {
    for (let term = 0; !opts.signal.aborted; term++) {
      const leadership = await campaign(etcd, { id, logger: opts.logger, ...(opts.leaseTtlS ? { ttlS: opts.leaseTtlS } : {}), signal: opts.signal }).catch((e: unknown) => {
        if (opts.signal.aborted) return null;
        throw e;
      });
      if (!leadership) break;
      const store = new EtcdEventStore(etcd, { fence: leadership.fence });
      const signal = AbortSignal.any([leadership.signal, opts.signal]);
      // One watch over every host's keys and batched fenced writes, for this term's agent hosts.
      const feed = new HostKeyFeed(etcd);
      const write = batchedFencedPuts(etcd, leadership.fence);
      const rulesets = new RulesetWriter(etcd, write);
      try {
        await opts.term({
          etcd,
          store,
          fence: leadership.fence,
          signal,
          lost: leadership.signal,
          drivers: (file, checksFor) => driversFromHostsFile(file, { etcd, checksFor, fence: leadership.fence, keys: feed, write, rulesets, ...(opts.confirmMs ? { confirmMs: opts.confirmMs } : {}) }),
        });
      } catch (e) {
        const err = e as { code?: string; message?: string };
        log.error({ event: 'LeaderTermFailed', code: err.code }, `leader term ended with an error: ${err.message ?? String(e)}`);
      } finally {
        await feed.close();
        await store.close();
        await leadership.resign();
      }
      if (opts.once) break;
      if (!opts.signal.aborted && !leadership.signal.aborted) {
        // The term returned on its own while still leader (an error): pause before campaigning again.
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  } finally {
    etcd.close();
  }
}
