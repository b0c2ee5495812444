import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { isEtcdStoreError } from '../../src/etcd/errors.js';
import { EtcdEventStore } from '../../src/etcd/event-store.js';
import { batchedFencedPuts } from '../../src/etcd/fence.js';
import { HostKeyFeed } from '../../src/etcd/host-feed.js';
import { EVENTS, hostKey, LEADER } from '../../src/etcd/keys.js';
import { MAX_TXN_OPS } from '../../src/etcd/limits.js';
import { getRuleset, PART_CHARS, RulesetWriter } from '../../src/etcd/rulesets.js';
import type { EventDraft } from '../../src/eventlog/events.js';
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
afterEach(() => {
  vi.restoreAllMocks();
});

/** An empty store and a leader key won now: the fence every leader write compares. */
async function lead(value = 'r1') {
  await client.txn([], [{ del: '/palisade/v1/', prefix: true }]);
  const won = await client.txn([{ key: LEADER, absent: true }], [{ put: LEADER, value }]);
  return { key: LEADER, createRevision: won.revision };
}

async function depose() {
  await client.txn([], [{ del: LEADER }]);
  await client.put(LEADER, 'someone else');
}

/** What a wave of hosts records at once: a transition per host. */
const transitions = (n: number, tag = 'r1'): EventDraft[] =>
  Array.from({ length: n }, (_, i) => ({ type: 'HostTransition', revision: tag, key: `${tag}:host:node-${i}:queued->preflight`, host: `node-${i}`, wave: 0, from: 'queued', to: 'preflight' }) as EventDraft);

describe('batched etcd writes', () => {
  it('a batch of 1,000 events goes out in few transactions, each within the limits, and the log stays gap-free with every key once', async () => {
    const fence = await lead();
    const store = new EtcdEventStore(client, { fence });
    const txn = vi.spyOn(client, 'txn');
    const drafts = transitions(1000);
    const appended = await store.append([...drafts, ...drafts.slice(0, 10)]);
    expect(appended.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    const calls = txn.mock.calls.map(([compare, success]) => ({ compare: compare.length, success: success.length }));
    // etcd bounds each list of a transaction, not their sum (v3.4.23 etcdserver/api/v3rpc/key.go:147).
    for (const c of calls) expect(Math.max(c.compare, c.success)).toBeLessThanOrEqual(MAX_TXN_OPS);
    // Two success ops per event (event, index entry) and the head: 63 events per transaction,
    // and one read of the head first.
    expect(calls.length).toBeLessThanOrEqual(Math.ceil(1000 / 63) + 1);
    const events = await store.read();
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => e.key)).size).toBe(1000);
  });

  it('bounds each list of a transaction as etcd does: 128 compares with 128 puts go through, 129 of either are refused before sending', async () => {
    const many = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `/palisade/v1/test/${tag}/${i}`);
    const res = await client.txn(many(MAX_TXN_OPS, 'c').map((key) => ({ key, absent: true as const })), many(MAX_TXN_OPS, 'p').map((put) => ({ put, value: 'x' })));
    expect(res.succeeded).toBe(true);
    expect((await client.list('/palisade/v1/test/p/')).kvs).toHaveLength(MAX_TXN_OPS);
    await expect(client.txn(many(MAX_TXN_OPS + 1, 'c').map((key) => ({ key, absent: true as const })), [{ put: '/palisade/v1/test/one', value: 'x' }])).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_LIMIT'));
    await expect(client.txn([], many(MAX_TXN_OPS + 1, 'q').map((put) => ({ put, value: 'x' })))).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_LIMIT'));
  });

  it('a leader deposed in the middle of a batch writes nothing after that: the log is a gap-free prefix and the append fails ETCD_NOT_LEADER', async () => {
    const fence = await lead();
    const store = new EtcdEventStore(client, { fence });
    const txn = client.txn.bind(client);
    let deposedAt: string | null = null;
    let calls = 0;
    vi.spyOn(client, 'txn').mockImplementation(async (...args) => {
      const res = await txn(...args);
      // After the third transaction that writes events, another reconciler takes the leader key.
      if (args[1].some((op) => 'put' in op) && ++calls === 3) {
        vi.restoreAllMocks();
        await depose();
        deposedAt = (await client.get(LEADER))!.createRevision;
      }
      return res;
    });
    await expect(store.append(transitions(1000))).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_NOT_LEADER'));
    expect(deposedAt).not.toBeNull();
    const { kvs } = await client.list(EVENTS);
    const head = await store.head();
    expect(head).toBeGreaterThan(0);
    expect(head).toBeLessThan(1000);
    expect(kvs.map((kv) => (JSON.parse(kv.value) as { seq: number }).seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    for (const kv of kvs) expect(BigInt(kv.modRevision)).toBeLessThan(BigInt(deposedAt!));
  });

  it('desired states put in one turn share fenced transactions (128 puts, the fence compare a list of its own); each key holds its own value at the revision its put returned', async () => {
    const fence = await lead();
    const write = batchedFencedPuts(client, fence);
    const txn = vi.spyOn(client, 'txn');
    const hosts = Array.from({ length: 300 }, (_, i) => `node-${i}`);
    const revisions = await Promise.all(hosts.map((h) => write(hostKey(h, 'desired'), JSON.stringify({ host: h }))));
    expect(txn.mock.calls.map(([compare, success]) => [compare.length, success.length])).toEqual([[1, 128], [1, 128], [1, 44]]);
    for (const [i, h] of hosts.entries()) {
      const kv = (await client.get(hostKey(h, 'desired')))!;
      expect(JSON.parse(kv.value)).toEqual({ host: h });
      expect(kv.modRevision).toBe(revisions[i]);
    }
    // A key put twice in one turn: each put gets the revision its own value was written at.
    const [first, second] = await Promise.all([write(hostKey('node-0', 'confirm'), '"a"'), write(hostKey('node-0', 'confirm'), '"b"')]);
    expect(BigInt(second!)).toBeGreaterThan(BigInt(first!));
    expect((await client.get(hostKey('node-0', 'confirm')))!.value).toBe('"b"');
  });

  it('a deposed leader\'s batched puts all fail ETCD_NOT_LEADER and none is written', async () => {
    const fence = await lead();
    const write = batchedFencedPuts(client, fence);
    await depose();
    const results = await Promise.allSettled(Array.from({ length: 200 }, (_, i) => write(hostKey(`node-${i}`, 'desired'), '{}')));
    for (const r of results) expect(r.status === 'rejected' && isEtcdStoreError(r.reason, 'ETCD_NOT_LEADER')).toBe(true);
    expect((await client.list('/palisade/v1/hosts/')).kvs).toEqual([]);
  });

  it('one prefix watch follows every host: reads see the newest value, a wait ends on the put it waits for', async () => {
    await lead();
    await client.put(hostKey('node-1', 'status'), '{"state":"idle"}');
    const feed = new HostKeyFeed(client);
    try {
      await feed.start();
      expect((await feed.get('node-1', 'status'))?.value).toBe('{"state":"idle"}');
      expect(await feed.get('node-2', 'status')).toBeNull();
      const waited = feed.wait('node-2', 'status', (kv) => (kv?.value === '"done"' ? kv.modRevision : undefined), 10_000);
      await client.put(hostKey('node-2', 'status'), '"working"');
      const rev = await client.put(hostKey('node-2', 'status'), '"done"');
      expect(await waited).toBe(rev);
      expect((await feed.get('node-2', 'status'))?.value).toBe('"done"');
      await expect(feed.wait('node-3', 'status', (kv) => kv ?? undefined, 300)).resolves.toBeUndefined();
    } finally {
      await feed.close();
    }
  });

  it('rulesets of a wave are stored in a few fenced transactions, each hash once per term, and a forgotten one is written again', async () => {
    const fence = await lead();
    const rulesets = new RulesetWriter(client, batchedFencedPuts(client, fence));
    const texts = Array.from({ length: 300 }, (_, i) => `table inet palisade { # node-${i}\n${'  chain c { tcp dport 80 accept }\n'.repeat(20)}}\n`);
    const txn = vi.spyOn(client, 'txn');
    const refs = await Promise.all([...texts, ...texts.slice(0, 50)].map((t) => rulesets.put(t)));
    // 300 puts of ~0.7 KB: three transactions by count (128 each), none by size; the 50 repeats write nothing.
    expect(txn.mock.calls.map(([, success]) => success.length)).toEqual([128, 128, 44]);
    for (const [i, t] of texts.entries()) expect(await getRuleset(client, refs[i]!)).toBe(t);
    txn.mockClear();
    await rulesets.put(texts[0]!);
    expect(txn).not.toHaveBeenCalled();
    rulesets.forget(refs[0]!.hash);
    await rulesets.put(texts[0]!);
    expect(txn).toHaveBeenCalledTimes(1);
    // Over one part: stored in parts, read back whole.
    const big = 'x'.repeat(PART_CHARS + 10);
    expect(await getRuleset(client, await rulesets.put(big))).toBe(big);
    // A deposed leader stores nothing, and the failure is not remembered as stored.
    await depose();
    await expect(rulesets.put('table inet palisade { }\n')).rejects.toSatisfy((e) => isEtcdStoreError(e, 'ETCD_NOT_LEADER'));
  });
});
