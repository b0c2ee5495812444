import type { EtcdClient, KeyValue } from './client.js';

/**
 * Resolves with `accept(kv)` once it returns something for the key's value, or `undefined`
 * when `timeoutMs` passes. Watches the key, and also re-reads it every `recheckMs` so a watch
 * that broke silently (etcd restarting, a cut path) only delays the answer.
 */
export async function waitForKey<T>(etcd: EtcdClient, key: string, accept: (kv: KeyValue | null) => T | undefined, timeoutMs: number, recheckMs = 1000): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  const first = await etcd.range(key);
  const now = accept(first.kvs[0] ?? null);
  if (now !== undefined) return now;
  const watcher = await etcd.client.watch().key(key).startRevision(String(BigInt(first.revision) + 1n)).create();
  try {
    return await new Promise<T | undefined>((resolve) => {
      let done = false;
      const finish = (v: T | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        clearInterval(recheck);
        resolve(v);
      };
      const timer = setTimeout(() => finish(undefined), Math.max(0, deadline - Date.now()));
      const recheck = setInterval(() => {
        etcd.get(key).then(
          (kv) => {
            const v = accept(kv);
            if (v !== undefined) finish(v);
          },
          () => undefined,
        );
      }, recheckMs);
      watcher.on('put', (raw) => {
        const v = accept({ key, value: raw.value.toString(), createRevision: raw.create_revision, modRevision: raw.mod_revision, lease: raw.lease });
        if (v !== undefined) finish(v);
      });
      watcher.on('error', () => undefined);
    });
  } finally {
    await watcher.cancel().catch(() => undefined);
  }
}
