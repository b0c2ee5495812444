import type { Watcher } from 'etcd3';
import type { EtcdClient, KeyValue } from './client.js';
import { HOSTS, hostKey, type HostKey } from './keys.js';
import { waitForKey } from './wait-key.js';

/** How the reconciler reads a host's keys: `get` now, or `wait` until a value is accepted. */
export interface HostKeyReader {
  get(host: string, key: HostKey): Promise<KeyValue | null>;
  /** `accept(kv)` on the current value and every change; undefined once `timeoutMs` passed without one. */
  wait<T>(host: string, key: HostKey, accept: (kv: KeyValue | null) => T | undefined, timeoutMs: number): Promise<T | undefined>;
}

interface Waiter {
  path: string;
  offer(kv: KeyValue | null): void;
}

/**
 * Every host's keys followed through ONE prefix watch on `/palisade/v1/hosts/` (after one paged
 * listing), instead of a read per host per question and a watch per host per answer: with a
 * thousand agents that was thousands of requests and watch streams per rollout. Reads come from
 * what the watch delivered. A waiter still re-reads its key directly every `recheckMs`, so a watch
 * that broke silently only delays an answer; a watch that ends (compaction) lists again.
 */
export class HostKeyFeed implements HostKeyReader {
  private readonly values = new Map<string, KeyValue>();
  private readonly waiters = new Set<Waiter>();
  private watcher: Watcher | null = null;
  private synced: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly recheckMs = 1000,
  ) {}

  /** Lists, then watches from the listing's revision; resolves once the listing is in. */
  start(): Promise<void> {
    this.synced ??= this.sync().catch((e: unknown) => {
      this.synced = null;
      throw e;
    });
    return this.synced;
  }

  private async sync(): Promise<void> {
    const { kvs, revision } = await this.etcd.list(HOSTS, { pageSize: 1024 });
    this.values.clear();
    for (const kv of kvs) this.values.set(kv.key, kv);
    for (const w of this.waiters) w.offer(this.values.get(w.path) ?? null);
    if (this.closed) return;
    const watcher = await this.etcd.client.watch().prefix(HOSTS).startRevision(String(BigInt(revision) + 1n)).create();
    if (this.closed) {
      await watcher.cancel().catch(() => undefined);
      return;
    }
    this.watcher = watcher;
    watcher.on('put', (raw) => {
      const kv: KeyValue = { key: raw.key.toString(), value: raw.value.toString(), createRevision: raw.create_revision, modRevision: raw.mod_revision, lease: raw.lease };
      this.learn(kv.key, kv);
    });
    watcher.on('delete', (raw) => this.learn(raw.key.toString(), null));
    watcher.on('error', () => {
      if (this.watcher !== watcher || this.closed) return;
      this.watcher = null;
      void watcher.cancel().catch(() => undefined);
      this.synced = null;
      // Listed again on the next read; waiters meanwhile fall back to their rechecks.
      void this.start().catch(() => undefined);
    });
  }

  /** Keeps the newest value per key: a direct read and the watch may deliver out of order. */
  private learn(path: string, kv: KeyValue | null): void {
    const known = this.values.get(path);
    if (kv && known && BigInt(known.modRevision) > BigInt(kv.modRevision)) return;
    if (kv) this.values.set(path, kv);
    else this.values.delete(path);
    for (const w of this.waiters) if (w.path === path) w.offer(kv);
  }

  async get(host: string, key: HostKey): Promise<KeyValue | null> {
    const path = hostKey(host, key);
    if (await this.start().then(() => this.watcher !== null, () => false)) return this.values.get(path) ?? null;
    return this.etcd.get(path);
  }

  async wait<T>(host: string, key: HostKey, accept: (kv: KeyValue | null) => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const path = hostKey(host, key);
    const now = accept(await this.get(host, key));
    if (now !== undefined) return now;
    return new Promise<T | undefined>((resolve) => {
      let done = false;
      const finish = (v: T | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(recheck);
        this.waiters.delete(waiter);
        resolve(v);
      };
      const waiter: Waiter = {
        path,
        offer: (kv) => {
          const v = accept(kv);
          if (v !== undefined) finish(v);
        },
      };
      this.waiters.add(waiter);
      // What arrived between the read above and the subscription.
      waiter.offer(this.values.get(path) ?? null);
      const timer = setTimeout(() => finish(undefined), timeoutMs);
      const recheck = setInterval(() => {
        this.etcd.get(path).then((kv) => {
          if (kv) this.learn(path, kv);
          waiter.offer(kv);
        }, () => undefined);
      }, this.recheckMs);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters) w.offer(null);
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = null;
  }
}

/** Without a feed: a read per question and a watch per answer (tools and tests that hold no term). */
export function directHostKeys(etcd: EtcdClient): HostKeyReader {
  return {
    get: (host, key) => etcd.get(hostKey(host, key)),
    wait: (host, key, accept, timeoutMs) => waitForKey(etcd, hostKey(host, key), accept, timeoutMs),
  };
}
