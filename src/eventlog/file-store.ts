import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { EventLogError } from './errors.js';
import { PalisadeEvent, type EventDraft } from './events.js';
import { acquireWriterLock } from './lock.js';
import { encodeRecord } from './record.js';
import { readSegment, syncDir, type Damage } from './segment.js';
import type { EventStore, StoreHealth } from './store.js';

export interface FileEventStoreOptions {
  /** For readers next to a running writer (`palisade events`): no lock, no tail repair, no appends. */
  readOnly?: boolean;
  /** A new segment starts once the current one would exceed this. Default 64 MiB. */
  segmentBytes?: number;
  logger?: Logger;
  /** After a failed write, how long until the first attempt to reopen (doubling up to 5 s). Default 250 ms. */
  recoverMs?: number;
  /** Called after every durable batch, e.g. to update `palisade_events_appended_total`. */
  onAppended?: (events: readonly PalisadeEvent[], logBytes: number) => void;
}

/** What opening the log cut off: a write torn by a crash, never acknowledged to anyone. */
export interface TailRecovery {
  file: string;
  offset: number;
  droppedBytes: number;
  reason: string;
}

export interface FollowOptions {
  signal?: AbortSignal;
  /** How often to look for new records written by another process. Default 500 ms. */
  pollMs?: number;
}

export interface FileEventStore extends EventStore {
  readonly dir: string;
  /** Set when opening truncated a torn tail. */
  readonly recovered: TailRecovery | null;
  /** Events with `seq > since`, in batches, without holding the whole log in memory. */
  iterate(since?: number): AsyncIterable<PalisadeEvent[]>;
  /** Events with `seq > since`, then every new one as it becomes durable, until `signal` aborts or the store closes. */
  follow(since?: number, opts?: FollowOptions): AsyncIterable<PalisadeEvent>;
  /** Whether an event with this idempotency key is in the log. */
  has(key: string): boolean;
  /** Bytes of acknowledged records on disk. */
  sizeBytes(): number;
}

interface Segment {
  path: string;
  firstSeq: number;
  /** Bytes of acknowledged (writer) or intact (reader) records. */
  end: number;
}

interface Pending {
  events: PalisadeEvent[];
  resolve: (appended: PalisadeEvent[]) => void;
  reject: (e: unknown) => void;
}

interface Cursor {
  seq: number;
  segment: number;
  offset: number;
}

const SEGMENT_FILE = /^(\d{20})\.seg$/;
const segmentName = (firstSeq: number) => `${String(firstSeq).padStart(20, '0')}.seg`;
const BATCH = 1024;

export async function openFileEventStore(dir: string, opts: FileEventStoreOptions = {}): Promise<FileEventStore> {
  const readOnly = opts.readOnly ?? false;
  if (!readOnly) await mkdir(dir, { recursive: true });
  const release = readOnly ? null : await acquireWriterLock(dir);
  try {
    const store = new FileStore(dir, opts, release);
    await store.load();
    return store;
  } catch (e) {
    await release?.();
    throw e;
  }
}

class FileStore implements FileEventStore {
  recovered: TailRecovery | null = null;
  private segments: Segment[] = [];
  private readonly keys = new Set<string>();
  private headSeq = 0;
  private fh: FileHandle | null = null;
  private queue: Pending[] = [];
  /** Set before a flush starts and cleared by the flush in the same step that sees the queue empty. */
  private flushing = false;
  private idle: Promise<void> = Promise.resolve();
  private failure: { error: EventLogError; since: string } | null = null;
  private recovery: NodeJS.Timeout | null = null;
  private readonly recoveredListeners: (() => void)[] = [];
  private closed = false;
  private waiters = new Set<() => void>();
  private readonly readOnly: boolean;
  private readonly segmentBytes: number;

  constructor(
    readonly dir: string,
    private readonly opts: FileEventStoreOptions,
    private readonly release: (() => Promise<void>) | null,
  ) {
    this.readOnly = opts.readOnly ?? false;
    this.segmentBytes = opts.segmentBytes ?? 64 << 20;
  }

  /** Scans every segment: rebuilds the key index, checks the sequence, repairs a torn tail. */
  async load(): Promise<void> {
    this.segments = await this.listSegments();
    if (this.segments.length === 0) {
      if (this.readOnly) throw new EventLogError('EVENTLOG_READONLY', `no event log in ${this.dir}`, { file: this.dir });
      this.segments.push(await this.createSegment(1));
    }
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const isLast = i === this.segments.length - 1;
      const { end, damage } = await readSegment(seg.path, 0, undefined, (payload, offset) => {
        const event = parse(payload);
        if (event.seq !== this.headSeq + 1 || (offset === 0 && event.seq !== seg.firstSeq)) {
          throw new EventLogError('EVENTLOG_CORRUPT', `event log ${seg.path}: seq ${event.seq} at offset ${offset} where ${this.headSeq + 1} was expected`, { file: seg.path, offset });
        }
        this.headSeq = event.seq;
        this.keys.add(event.key);
      });
      seg.end = end;
      if (damage) await this.onDamage(seg, damage, isLast);
    }
    if (!this.readOnly) this.fh = await open(this.tail().path, 'r+');
  }

  private async onDamage(seg: Segment, damage: Damage, isLast: boolean): Promise<void> {
    if (!isLast || damage.intactAfter) {
      throw new EventLogError(
        'EVENTLOG_CORRUPT',
        `event log ${seg.path} is damaged at offset ${damage.offset} (${damage.reason}) and acknowledged records follow; ` +
          `restore the directory from a backup — records are never skipped`,
        { file: seg.path, offset: damage.offset },
      );
    }
    // A reader may be looking at a write in progress: stop there, change nothing.
    if (this.readOnly) return;
    const size = (await stat(seg.path)).size;
    const fh = await open(seg.path, 'r+');
    try {
      await fh.truncate(damage.offset);
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.recovered = { file: seg.path, offset: damage.offset, droppedBytes: size - damage.offset, reason: damage.reason };
    this.opts.logger?.warn({ ...this.recovered }, 'event log: truncated a torn tail left by a crash (never acknowledged)');
  }

  private async listSegments(): Promise<Segment[]> {
    const names = await readdir(this.dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' && this.readOnly) return [] as string[];
      throw e;
    });
    return names
      .map((n) => SEGMENT_FILE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ path: join(this.dir, m[0]), firstSeq: Number(m[1]), end: 0 }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
  }

  private async createSegment(firstSeq: number): Promise<Segment> {
    const path = join(this.dir, segmentName(firstSeq));
    const fh = await open(path, 'wx');
    await fh.sync();
    await fh.close();
    await syncDir(this.dir);
    return { path, firstSeq, end: 0 };
  }

  private tail(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  append(drafts: readonly EventDraft[]): Promise<PalisadeEvent[]> {
    if (this.closed) return Promise.reject(new EventLogError('EVENTLOG_CLOSED', `event log ${this.dir} is closed`));
    if (this.readOnly) return Promise.reject(new EventLogError('EVENTLOG_READONLY', `event log ${this.dir} was opened read-only`));
    if (this.failure) return Promise.reject(this.failure.error);
    if (drafts.length === 0) return Promise.resolve([]);
    const events: PalisadeEvent[] = [];
    for (const draft of drafts) {
      const checked = PalisadeEvent.safeParse({ ...draft, seq: 1, time: '', version: 1 });
      if (!checked.success) {
        const issue = checked.error.issues[0];
        return Promise.reject(
          new EventLogError('EVENTLOG_INVALID_EVENT', `event ${draft.type} (${draft.key}) does not match the schema: ${issue?.path.join('.')} ${issue?.message}`),
        );
      }
      events.push(checked.data);
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        this.idle = this.flush();
      }
    });
  }

  /**
   * Group commit: everything queued while the previous fsync ran goes out in one write and one
   * fsync. Batches are strictly sequential, so only the last one can ever be torn.
   */
  private async flush(): Promise<void> {
    for (;;) {
      if (this.queue.length === 0) {
        this.flushing = false;
        return;
      }
      const batch = this.queue.splice(0);
      if (this.failure) {
        for (const p of batch) p.reject(this.failure.error);
        continue;
      }
      const time = new Date().toISOString();
      const fresh = new Set<string>();
      const appended: PalisadeEvent[][] = [];
      const records: Buffer[] = [];
      let bytes = 0;
      let seq = this.headSeq;
      for (const p of batch) {
        const mine: PalisadeEvent[] = [];
        for (const draft of p.events) {
          if (this.keys.has(draft.key) || fresh.has(draft.key)) continue;
          fresh.add(draft.key);
          const event = { ...draft, seq: ++seq, time, version: 1 } as PalisadeEvent;
          const record = encodeRecord(Buffer.from(JSON.stringify(event)));
          records.push(record);
          bytes += record.length;
          mine.push(event);
        }
        appended.push(mine);
      }
      if (records.length > 0) {
        try {
          await this.writeDurably(Buffer.concat(records, bytes), this.headSeq + 1);
        } catch (e) {
          this.fail(e);
          for (const p of batch) p.reject(this.failure!.error);
          continue;
        }
        this.headSeq = seq;
        for (const k of fresh) this.keys.add(k);
        const all = appended.flat();
        this.opts.onAppended?.(all, this.sizeBytes());
        this.wake();
      }
      batch.forEach((p, i) => p.resolve(appended[i]!));
    }
  }

  private async writeDurably(buf: Buffer, firstSeq: number): Promise<void> {
    let seg = this.tail();
    if (seg.end > 0 && seg.end + buf.length > this.segmentBytes) {
      await this.fh!.close();
      seg = await this.createSegment(firstSeq);
      this.segments.push(seg);
      this.fh = await open(seg.path, 'r+');
    }
    let written = 0;
    while (written < buf.length) {
      const { bytesWritten } = await this.fh!.write(buf, written, buf.length - written, seg.end + written);
      written += bytesWritten;
    }
    await this.fh!.datasync();
    seg.end += buf.length;
  }

  /**
   * A write failed: nothing of the batch was acknowledged, and what reached the file past the
   * acknowledged end is a torn tail. Appends are refused with this reason (kept current) until
   * a reopen succeeds; reopening is retried on its own, so a disk that fills up and is freed
   * again needs no restart.
   */
  private fail(e: unknown, attempt = 0): void {
    const message = (e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'no space left on the device' : (e as Error).message;
    const error = new EventLogError(
      'EVENTLOG_IO',
      `event log ${this.tail().path}: cannot write (${message}); nothing more is recorded or applied until it can, retrying by itself`,
      { file: this.tail().path },
      { cause: e },
    );
    if (!this.failure) this.opts.logger?.error({ event: 'EventLogUnwritable', file: this.tail().path }, error.message);
    this.failure = { error, since: this.failure?.since ?? new Date().toISOString() };
    if (this.closed || this.recovery) return;
    const delay = Math.min(5000, (this.opts.recoverMs ?? 250) * 2 ** Math.min(attempt, 5));
    this.recovery = setTimeout(() => {
      this.recovery = null;
      void this.reopen().then(
        () => {
          this.failure = null;
          this.opts.logger?.info({ event: 'EventLogWritable', file: this.tail().path }, 'event log: writable again, resuming');
          for (const l of this.recoveredListeners) l();
        },
        (err: unknown) => {
          if (!this.closed) this.fail(err, attempt + 1);
        },
      );
    }, delay);
    this.recovery.unref();
  }

  /**
   * Back to the last acknowledged record: a segment file a failed rotation left behind is
   * removed (it holds nothing acknowledged), the tail is cut to its acknowledged end and
   * synced, and a write of one page proves there is room again before appends resume.
   */
  private async reopen(): Promise<void> {
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    const tail = this.tail();
    for (const seg of await this.listSegments()) if (seg.firstSeq > tail.firstSeq) await unlink(seg.path);
    const fh = await open(tail.path, 'r+');
    try {
      await fh.truncate(tail.end);
      await fh.write(Buffer.alloc(4096), 0, 4096, tail.end);
      await fh.datasync();
      await fh.truncate(tail.end);
      await fh.sync();
    } catch (e) {
      await fh.close().catch(() => undefined);
      throw e;
    }
    this.fh = fh;
  }

  health(): StoreHealth {
    return this.failure ? { writable: false, reason: this.failure.error.message, since: this.failure.since } : { writable: true };
  }

  onRecovered(listener: () => void): void {
    this.recoveredListeners.push(listener);
  }

  async read(since = 0): Promise<PalisadeEvent[]> {
    const out: PalisadeEvent[] = [];
    for await (const batch of this.iterate(since)) for (const e of batch) out.push(e);
    return out;
  }

  async *iterate(since = 0): AsyncIterable<PalisadeEvent[]> {
    if (this.readOnly) await this.refresh();
    // Nothing beyond the head: the segment is not scanned from its start just to find that out.
    if (since >= this.headSeq) return;
    yield* this.readFrom({ seq: since, segment: this.segmentOf(since + 1), offset: 0 });
  }

  private segmentOf(seq: number): number {
    let i = 0;
    while (i + 1 < this.segments.length && this.segments[i + 1]!.firstSeq <= seq) i++;
    return i;
  }

  /** Reads acknowledged records after the cursor and advances it, so followers never re-read. */
  private async *readFrom(cursor: Cursor): AsyncGenerator<PalisadeEvent[]> {
    for (; cursor.segment < this.segments.length; cursor.segment++, cursor.offset = 0) {
      const seg = this.segments[cursor.segment]!;
      if (cursor.offset >= seg.end) continue;
      let batch: PalisadeEvent[] = [];
      const batches: PalisadeEvent[][] = [];
      // Collected per segment read, then yielded: readSegment's callback cannot yield.
      const { end } = await readSegment(seg.path, cursor.offset, seg.end, (payload) => {
        const event = parse(payload);
        if (event.seq <= cursor.seq) return;
        batch.push(event);
        if (batch.length === BATCH) {
          batches.push(batch);
          batch = [];
        }
      });
      if (batch.length > 0) batches.push(batch);
      cursor.offset = end;
      for (const b of batches) {
        cursor.seq = b[b.length - 1]!.seq;
        yield b;
      }
      if (cursor.segment === this.segments.length - 1) return;
    }
  }

  /** Read-only mode: pick up what the writer appended since the last look. */
  private async refresh(): Promise<void> {
    const found = await this.listSegments();
    for (const seg of found) {
      const known = this.segments.find((s) => s.firstSeq === seg.firstSeq);
      if (!known) this.segments.push(seg);
    }
    this.segments.sort((a, b) => a.firstSeq - b.firstSeq);
    for (let i = 0; i < this.segments.length; i++) {
      const seg = this.segments[i]!;
      const { end, damage } = await readSegment(seg.path, seg.end, undefined, (payload) => {
        this.headSeq = Math.max(this.headSeq, parse(payload).seq);
      });
      seg.end = end;
      if (damage && (i < this.segments.length - 1 || damage.intactAfter)) await this.onDamage(seg, damage, false);
    }
  }

  async *follow(since = 0, opts: FollowOptions = {}): AsyncIterable<PalisadeEvent> {
    const cursor: Cursor = { seq: since, segment: 0, offset: 0 };
    if (this.readOnly) await this.refresh();
    cursor.segment = this.segmentOf(since + 1);
    while (!this.closed && !opts.signal?.aborted) {
      for await (const batch of this.readFrom(cursor)) yield* batch;
      // An append that landed while this reader was busy already woke nobody: don't wait for it.
      if (this.readOnly || this.headSeq <= cursor.seq) await this.changed(opts);
      if (this.readOnly) await this.refresh();
      // A segment that filled up while we waited: continue from the start of its successor.
      if (cursor.segment >= this.segments.length) cursor.segment = this.segments.length - 1;
    }
  }

  private changed(opts: FollowOptions): Promise<void> {
    // Aborted while the reader was busy: an abort listener added now would never fire.
    if (opts.signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        opts.signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, this.readOnly ? (opts.pollMs ?? 500) : 2_147_483_647);
      this.waiters.add(done);
      opts.signal?.addEventListener('abort', done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  async head(): Promise<number> {
    if (this.readOnly) await this.refresh();
    return this.headSeq;
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  sizeBytes(): number {
    return this.segments.reduce((n, s) => n + s.end, 0);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.recovery) clearTimeout(this.recovery);
    await this.idle;
    this.wake();
    await this.fh?.close();
    this.fh = null;
    await this.release?.();
  }
}

/** Records are validated on append and checksummed on disk, so replay trusts them: JSON.parse only. */
function parse(payload: Buffer): PalisadeEvent {
  return JSON.parse(payload.toString('utf8')) as PalisadeEvent;
}
