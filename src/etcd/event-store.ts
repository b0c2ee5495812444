import { EventLogError } from '../eventlog/errors.js';
import { PalisadeEvent, type EventDraft } from '../eventlog/events.js';
import type { EventStore } from '../eventlog/store.js';
import type { Compare, EtcdClient, Op } from './client.js';
import { EtcdStoreError } from './errors.js';
import { EVENTS, EVENTS_HEAD, EVENTS_SNAPSHOT, eventIndexKey, eventKey, seqOfEventKey } from './keys.js';
import { batchesWithin, MAX_TXN_OPS } from './limits.js';

/**
 * The most events one append transaction can hold: two success ops each (event, index entry) and
 * the head put. Compares (one per event, the head's and the fence's) are a list of their own and
 * always the shorter one.
 */
const EVENTS_PER_TXN = Math.floor((MAX_TXN_OPS - 1) / 2);

export interface EtcdEventStoreOptions {
  /**
   * Appends succeed only while `key` still has this create revision: the leader key and the
   * revision at which this process won the election. A deposed leader's late append fails
   * with ETCD_NOT_LEADER instead of interleaving with the new leader's events.
   */
  fence?: { key: string; createRevision: string };
  /** Bound on compare-and-swap retries of one batch against other writers. Default 200. */
  maxAttempts?: number;
}

export interface LogSnapshot {
  /** Events up to and including this seq were deleted; `state` is what they folded into. */
  seq: number;
  state: unknown;
}

/**
 * The event log in etcd. Gap-free: every append is one transaction that compares the head
 * key's mod revision with the one it read and writes the events and the new head together,
 * so two writers can never both take seq N. Idempotent: each event's key has an index entry
 * created in the same transaction (compared absent), so a key is in the log at most once even
 * when two processes race to append it. The log is never read from MVCC history, so compaction
 * only bounds history, never the log.
 */
export class EtcdEventStore implements EventStore {
  private closed = false;
  private tail: Promise<unknown> = Promise.resolve();
  /** The head as of this store's last append or read; `modRevision` null = no head key yet. */
  private cachedHead: { seq: number; modRevision: string | null } | null = null;

  constructor(
    private readonly etcd: EtcdClient,
    private readonly opts: EtcdEventStoreOptions = {},
  ) {}

  /** Appends in order; concurrent calls from this process queue so they do not contend with each other. */
  append(drafts: readonly EventDraft[]): Promise<PalisadeEvent[]> {
    if (this.closed) return Promise.reject(new EventLogError('EVENTLOG_CLOSED', 'the etcd event store is closed'));
    const run = this.tail.then(() => this.appendNow(drafts));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async appendNow(drafts: readonly EventDraft[]): Promise<PalisadeEvent[]> {
    const unique = new Map<string, EventDraft>();
    for (const draft of drafts) {
      const checked = PalisadeEvent.safeParse({ ...draft, seq: 1, time: '', version: 1 });
      if (!checked.success) {
        const issue = checked.error.issues[0];
        throw new EventLogError('EVENTLOG_INVALID_EVENT', `event ${draft.type} (${draft.key}) does not match the schema: ${issue?.path.join('.')} ${issue?.message}`);
      }
      if (!unique.has(draft.key)) unique.set(draft.key, draft);
    }
    const appended: PalisadeEvent[] = [];
    let pending = [...unique.values()];
    const maxAttempts = this.opts.maxAttempts ?? 200;
    // New keys are the rule: look their index entries up only once a transaction failed (the
    // absent-compares catch a known key either way), not before every batch from a cold cache.
    let lookUpKeys = false;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= maxAttempts) throw new EtcdStoreError('ETCD_CONTENDED', `gave up appending after ${maxAttempts} lost compare-and-swaps on ${EVENTS_HEAD}; another writer is appending continuously — is a second reconciler running without leader election?`);
      // Happy path (the only writer, head cached from the last append): one transaction. The
      // compares catch everything the cache could be wrong about; a failure re-reads.
      if (!this.cachedHead) {
        if (lookUpKeys) pending = await this.readHeadWithout(pending);
        else await this.readHeadWithout([]);
        if (pending.length === 0) break;
      }
      const head = this.cachedHead!;
      const time = new Date().toISOString();
      // Per event: put event + put index (and one compare); plus the head put (and two compares).
      // Only the next transaction's worth is sized: sizing all that is pending on every round
      // serialised a large batch again and again (quadratic in its length).
      const chunk = batchesWithin(pending.slice(0, EVENTS_PER_TXN), () => 2, (d) => 2 * JSON.stringify(d).length + 256, 1, 512)[0]!;
      const events = chunk.map((d, i) => ({ ...d, seq: head.seq + i + 1, time, version: 1 }) as PalisadeEvent);
      const compare: Compare[] = [
        head.modRevision ? { key: EVENTS_HEAD, modRevision: head.modRevision } : { key: EVENTS_HEAD, absent: true },
        ...(this.opts.fence ? [{ key: this.opts.fence.key, createRevision: this.opts.fence.createRevision }] : []),
        ...chunk.map((d) => ({ key: eventIndexKey(d.key), absent: true as const })),
      ];
      const success: Op[] = [
        ...events.flatMap((e) => [
          { put: eventKey(e.seq), value: JSON.stringify(e) },
          { put: eventIndexKey(e.key), value: String(e.seq) },
        ]),
        { put: EVENTS_HEAD, value: String(head.seq + events.length) },
      ];
      const res = await this.etcd.txn(compare, success).catch((e: unknown) => {
        this.cachedHead = null;
        throw e;
      });
      if (res.succeeded) {
        appended.push(...events);
        pending = pending.slice(chunk.length);
        this.cachedHead = { seq: head.seq + events.length, modRevision: res.revision };
        attempt = -1;
        continue;
      }
      this.cachedHead = null;
      lookUpKeys = true;
      await this.checkFence();
    }
    return appended;
  }

  /** Reads the head and drops drafts whose key already has an index entry (appended before, by anyone). */
  private async readHeadWithout(drafts: EventDraft[]): Promise<EventDraft[]> {
    const known = new Set<string>();
    // With nothing to look up, one transaction still reads the head.
    const batches = drafts.length > 0 ? batchesWithin(drafts, () => 1, (d) => d.key.length + 128, 1) : [[]];
    for (const [i, batch] of batches.entries()) {
      const res = await this.etcd.txn([], [...(i === 0 ? [{ get: EVENTS_HEAD }] : []), ...batch.map((d) => ({ get: eventIndexKey(d.key) }))]);
      if (i === 0) {
        const kv = res.responses[0]!.kvs[0];
        this.cachedHead = kv ? { seq: Number(kv.value.toString()), modRevision: kv.mod_revision } : { seq: 0, modRevision: null };
      }
      const offset = i === 0 ? 1 : 0;
      batch.forEach((d, j) => {
        if (res.responses[j + offset]!.kvs.length > 0) known.add(d.key);
      });
    }
    return drafts.filter((d) => !known.has(d.key));
  }

  private async checkFence(): Promise<void> {
    const fence = this.opts.fence;
    if (!fence) return;
    const kv = await this.etcd.get(fence.key);
    if (kv?.createRevision !== fence.createRevision) {
      throw new EtcdStoreError('ETCD_NOT_LEADER', `this reconciler lost leadership (${fence.key} is now ${kv ? `held since revision ${kv.createRevision}` : 'free'}, not revision ${fence.createRevision}); it stops writing and stands by`);
    }
  }

  async read(since = 0): Promise<PalisadeEvent[]> {
    const snapshot = await this.snapshotSeq();
    if (since < snapshot) {
      throw new EtcdStoreError('ETCD_DATA', `events 1…${snapshot} were folded into the log snapshot (${EVENTS_SNAPSHOT}) and deleted; read the snapshot, then events after seq ${snapshot}`);
    }
    const { kvs } = await this.etcd.list(EVENTS, { pageSize: 512, from: eventKey(since + 1) });
    return kvs.map((kv) => JSON.parse(kv.value) as PalisadeEvent);
  }

  async head(): Promise<number> {
    const kv = await this.etcd.get(EVENTS_HEAD);
    return kv ? Number(kv.value) : 0;
  }

  /** The snapshot that replaced the oldest events, if any. */
  async snapshot(): Promise<LogSnapshot | null> {
    const kv = await this.etcd.get(EVENTS_SNAPSHOT);
    return kv ? (JSON.parse(kv.value) as LogSnapshot) : null;
  }

  private async snapshotSeq(): Promise<number> {
    return (await this.snapshot())?.seq ?? 0;
  }

  /**
   * Bounds the log: stores `state` (what events 1…`seq` fold into, e.g. the reconciler's
   * projection) as the snapshot, then deletes those events and their index entries in
   * transactions of at most 128 operations. Idempotency for deleted keys is then the snapshot's job.
   */
  async truncate(seq: number, state: unknown): Promise<{ deleted: number }> {
    const head = await this.head();
    if (seq > head) throw new EtcdStoreError('ETCD_DATA', `cannot snapshot through seq ${seq}: the log ends at ${head}`);
    await this.etcd.put(EVENTS_SNAPSHOT, JSON.stringify({ seq, state } satisfies LogSnapshot));
    let deleted = 0;
    const perTxn = Math.floor(MAX_TXN_OPS / 2);
    for (let rounds = 0; rounds < 1_000_000; rounds++) {
      const page = await this.etcd.range(EVENTS, { prefix: true, limit: perTxn });
      const old = page.kvs.filter((kv) => seqOfEventKey(kv.key) <= seq);
      if (old.length === 0) break;
      await this.etcd.txn(
        [],
        old.flatMap((kv) => [{ del: kv.key }, { del: eventIndexKey((JSON.parse(kv.value) as PalisadeEvent).key) }]),
      );
      deleted += old.length;
    }
    return { deleted };
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }
}
