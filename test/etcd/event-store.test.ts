import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { isEtcdStoreError } from '../../src/etcd/errors.js';
import { EtcdEventStore } from '../../src/etcd/event-store.js';
import { EVENTS, LEADER } from '../../src/etcd/keys.js';
import { isEventLogError } from '../../src/eventlog/errors.js';
import { commitDraft } from '../support/events.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

let etcd: EtcdCluster;
let client: EtcdClient;
beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
});
afterAll(async () => {
  client?.close();
  await etcd?.close();
});

/** Each test works on an empty log. */
async function freshStore(opts: ConstructorParameters<typeof EtcdEventStore>[1] = {}): Promise<EtcdEventStore> {
  await client.txn([], [{ del: '/palisade/v1/', prefix: true }]);
  return new EtcdEventStore(client, opts);
}

describe('etcd event store', () => {
  it('parses etcd:// store URLs and says what is wrong with a bad one', () => {
    expect(parseStoreUrl('etcd://10.0.0.1:2379,etcd-b:2379')).toEqual(['10.0.0.1:2379', 'etcd-b:2379']);
    for (const bad of ['http://x:1', 'etcd://', 'etcd://host', 'etcd://h:99999']) {
      expect(() => parseStoreUrl(bad)).toThrow(expect.objectContaining({ code: 'ETCD_URL_INVALID' }));
    }
  });

  it('assigns gap-free seqs, skips known keys, and reads from any seq', async () => {
    const store = await freshStore();
    expect((await store.append([commitDraft(1), commitDraft(2)])).map((e) => e.seq)).toEqual([1, 2]);
    expect(await store.append([commitDraft(2), commitDraft(3), commitDraft(3)])).toHaveLength(1);
    expect(await store.head()).toBe(3);
    expect((await store.read()).map((e) => e.key)).toEqual(['c1:CommitObserved', 'c2:CommitObserved', 'c3:CommitObserved']);
    expect((await store.read(2)).map((e) => e.seq)).toEqual([3]);
  });

  it('two writers racing (separate clients) never share or skip a seq, and append each key once', async () => {
    await freshStore();
    const other = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
    try {
      const a = new EtcdEventStore(client);
      const b = new EtcdEventStore(other);
      // Both try every key: each must land exactly once, whoever wins.
      await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).append([commitDraft(i % 30)])));
      const events = await a.read();
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => e.key)).size).toBe(30);
    } finally {
      other.close();
    }
  });

  it('splits a batch larger than one transaction (128 ops) and keeps order', async () => {
    const store = await freshStore();
    const drafts = Array.from({ length: 300 }, (_, i) => commitDraft(i));
    const appended = await store.append(drafts);
    expect(appended.map((e) => e.seq)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect((await store.read(250)).map((e) => e.key)).toEqual(drafts.slice(250).map((d) => d.key));
  });

  it('refuses an oversized event client-side, and the client keeps working afterwards', async () => {
    const store = await freshStore();
    const huge = { ...commitDraft(1), message: 'x'.repeat(1_200_000) };
    await expect(store.append([huge])).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_LIMIT'));
    // etcd3's default breaker would now fail every call for ~5 s; ours never saw the request.
    expect((await store.append([commitDraft(2)])).map((e) => e.seq)).toEqual([1]);
  });

  it('rejects a draft that breaks the schema', async () => {
    const store = await freshStore();
    await expect(store.append([{ ...commitDraft(1), key: '' }])).rejects.toSatisfy((e) => isEventLogError(e, 'EVENTLOG_INVALID_EVENT'));
  });

  it('fences appends on the leader key: a deposed leader cannot append', async () => {
    await freshStore();
    const won = await client.txn([{ key: LEADER, absent: true }], [{ put: LEADER, value: 'r1' }]);
    const fenced = new EtcdEventStore(client, { fence: { key: LEADER, createRevision: won.revision } });
    expect(await fenced.append([commitDraft(1)])).toHaveLength(1);
    await client.txn([], [{ del: LEADER }]);
    await client.put(LEADER, 'r2');
    await expect(fenced.append([commitDraft(2)])).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_NOT_LEADER'));
    expect(await fenced.head()).toBe(1);
  });

  it('truncates into a snapshot in ≤128-op transactions and refuses to read what was deleted', async () => {
    const store = await freshStore();
    await store.append(Array.from({ length: 150 }, (_, i) => commitDraft(i)));
    expect(await store.truncate(140, { folded: 140 })).toEqual({ deleted: 140 });
    expect(await store.snapshot()).toEqual({ seq: 140, state: { folded: 140 } });
    expect((await store.read(140)).map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 141 + i));
    await expect(store.read()).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_DATA'));
    expect((await client.list(EVENTS)).kvs).toHaveLength(10);
    // Appends continue after the snapshot, gap-free.
    expect((await store.append([commitDraft(999)]))[0]!.seq).toBe(151);
  });
});

describe('etcd log snapshots for the reconciler', () => {
  it('fold the log into a snapshot, delete what it covers, and restore the same projection', async () => {
    const { logSnapshots } = await import('../../src/etcd/log-snapshots.js');
    const { replay } = await import('../../src/eventlog/snapshot.js');
    const { reconcilerProjection } = await import('../../src/state/projections.js');
    const store = await freshStore();
    await store.append([1, 2, 3, 4, 5, 6].map((n) => commitDraft(n)));
    const snapshots = logSnapshots(store);
    const full = await replay(store, reconcilerProjection, snapshots, { every: 4 });
    expect(full.fromSnapshot).toBe(0);
    const snap = await store.snapshot();
    expect(snap?.seq).toBe(6);
    // The events the snapshot covers are gone from etcd: the log stays bounded.
    expect((await client.list(EVENTS)).kvs).toHaveLength(0);
    await store.append([commitDraft(7)]);
    const restored = await replay(store, reconcilerProjection, snapshots);
    expect(restored.fromSnapshot).toBe(6);
    expect([...restored.state.revisions.keys()]).toEqual([...full.state.revisions.keys(), 'c7']);
    expect(await logSnapshots(store).load('another-projection')).toBeNull();
  });
});

describe('before-snapshots in etcd (what a taking-over leader rolls back to)', () => {
  it('keep the first snapshot per host and revision, survive a new client, and are discarded per revision', async () => {
    const { EtcdBeforeSnapshots } = await import('../../src/etcd/before-snapshots.js');
    await freshStore();
    const first = new EtcdBeforeSnapshots(client);
    await first.putIfAbsent('node-a', 'r1', 'table before');
    await first.putIfAbsent('node-a', 'r1', 'half-applied: must not replace it');
    await first.putIfAbsent('node-b', 'r1', null);
    await first.putIfAbsent('node-a', 'r2', 'table before r2');
    // Another process (the next leader) reads what this one wrote.
    const next = new EtcdBeforeSnapshots(new EtcdClient(parseStoreUrl(etcd.localStoreUrl)));
    expect(await next.get('node-a', 'r1')).toEqual({ snapshot: 'table before' });
    expect(await next.get('node-b', 'r1')).toEqual({ snapshot: null });
    expect(await next.get('node-c', 'r1')).toBeUndefined();
    await next.discard('r1');
    expect(await next.get('node-a', 'r1')).toBeUndefined();
    expect(await next.get('node-a', 'r2')).toEqual({ snapshot: 'table before r2' });
  });

  it('refuse a deposed leader', async () => {
    const { EtcdBeforeSnapshots } = await import('../../src/etcd/before-snapshots.js');
    await freshStore();
    await client.put(LEADER, 'someone else');
    const stale = new EtcdBeforeSnapshots(client, { key: LEADER, createRevision: '1' });
    await expect(stale.putIfAbsent('node-a', 'r1', 'x')).rejects.toMatchObject({ code: 'ETCD_NOT_LEADER' });
    expect(await stale.get('node-a', 'r1')).toBeUndefined();
  });
});
