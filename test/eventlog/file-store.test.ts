import { appendFile, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isEventLogError } from '../../src/eventlog/errors.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { commitDraft } from '../support/events.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();

async function segmentPath(dir: string): Promise<string> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
  return join(dir, names[names.length - 1]!);
}

describe('file event store', () => {
  it('assigns gap-free seqs and reads back in order after reopening', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir);
    const first = await store.append([commitDraft(1), commitDraft(2)]);
    expect(first.map((e) => e.seq)).toEqual([1, 2]);
    await store.append([commitDraft(3)]);
    await store.close();

    const again = await openFileEventStore(dir);
    expect(await again.head()).toBe(3);
    expect((await again.read()).map((e) => e.key)).toEqual(['c1:CommitObserved', 'c2:CommitObserved', 'c3:CommitObserved']);
    expect((await again.read(2)).map((e) => e.seq)).toEqual([3]);
    expect(again.recovered).toBeNull();
    await again.close();
  });

  it('skips drafts whose key is already in the log, also across restarts and within one call', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir);
    await store.append([commitDraft(1)]);
    expect(await store.append([commitDraft(1), commitDraft(2), commitDraft(2)])).toHaveLength(1);
    await store.close();
    const again = await openFileEventStore(dir);
    expect(await again.append([commitDraft(1), commitDraft(2)])).toEqual([]);
    expect(await again.head()).toBe(2);
    // An all-duplicate call finishes without a write; the next call must still be flushed.
    expect((await again.append([commitDraft(3)])).map((e) => e.seq)).toEqual([3]);
    await again.close();
  });

  it('group-commits concurrent appends without losing or reordering any', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir, { segmentBytes: 4096 });
    await Promise.all(Array.from({ length: 500 }, (_, i) => store.append([commitDraft(i)])));
    const events = await store.read();
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(new Set(events.map((e) => e.key)).size).toBe(500);
    expect((await readdir(dir)).filter((n) => n.endsWith('.seg')).length).toBeGreaterThan(1);
    await store.close();
    const again = await openFileEventStore(dir, { segmentBytes: 4096 });
    expect((await again.read(250)).length).toBe(250);
    await again.close();
  });

  it('rejects a draft that breaks the schema and appends nothing of that call', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir);
    const bad = { ...commitDraft(1), author: 42 } as unknown as ReturnType<typeof commitDraft>;
    await expect(store.append([commitDraft(2), bad])).rejects.toMatchObject({ code: 'EVENTLOG_INVALID_EVENT' });
    expect(await store.head()).toBe(0);
    await store.close();
  });

  it('truncates a torn tail on open, reports it, and keeps appending after it', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir);
    await store.append([commitDraft(1), commitDraft(2)]);
    await store.close();
    const seg = await segmentPath(dir);
    const good = (await stat(seg)).size;
    const fh = await open(seg, 'r+');
    await fh.truncate(good - 7); // the last record cut short
    await fh.close();

    const again = await openFileEventStore(dir);
    expect(again.recovered).toMatchObject({ file: seg, reason: 'record cut short by end of file' });
    expect(await again.head()).toBe(1);
    await again.append([commitDraft(2)]);
    expect((await again.read()).map((e) => e.key)).toEqual(['c1:CommitObserved', 'c2:CommitObserved']);
    await again.close();
  });

  it('treats trailing garbage (e.g. zeroes after a power cut) as a torn tail', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir);
    await store.append([commitDraft(1)]);
    await store.close();
    await appendFile(await segmentPath(dir), Buffer.alloc(100));
    const again = await openFileEventStore(dir);
    expect(again.recovered?.droppedBytes).toBe(100);
    expect(await again.head()).toBe(1);
    await again.close();
  });

  it('refuses to open when a record in the middle is damaged, naming file and offset', async () => {
    const dir = await tmp();
    const store = await openFileEventStore(dir);
    await store.append([commitDraft(1)]);
    const [second] = await store.append([commitDraft(2)]);
    await store.append([commitDraft(3)]);
    await store.close();
    const seg = await segmentPath(dir);
    const all = await import('node:fs/promises').then((f) => f.readFile(seg));
    const secondAt = all.indexOf(Buffer.from(`{"seq":${second!.seq},`)) - 12;
    const fh = await open(seg, 'r+');
    await fh.write(Buffer.from('X'), 0, 1, secondAt + 40); // flip a byte inside record 2's payload
    await fh.close();

    const err = await openFileEventStore(dir).catch((e: unknown) => e);
    expect(isEventLogError(err, 'EVENTLOG_CORRUPT')).toBe(true);
    expect(err).toMatchObject({ details: { file: seg, offset: secondAt } });
    // Nothing was truncated: the operator can still restore or inspect.
    expect((await stat(seg)).size).toBe(all.length);
  });

  it('allows one writer per directory and readers next to it', async () => {
    const dir = await tmp();
    const writer = await openFileEventStore(dir);
    await expect(openFileEventStore(dir)).rejects.toMatchObject({ code: 'EVENTLOG_LOCKED' });
    await writer.append([commitDraft(1)]);
    const reader = await openFileEventStore(dir, { readOnly: true });
    await writer.append([commitDraft(2)]);
    expect(await reader.head()).toBe(2);
    await expect(reader.append([commitDraft(3)])).rejects.toMatchObject({ code: 'EVENTLOG_READONLY' });
    await reader.close();
    await writer.close();
  });

  it('takes over the lock of a process that no longer exists', async () => {
    const dir = await tmp();
    (await openFileEventStore(dir)).close();
    await writeFile(join(dir, 'LOCK'), '2147483646');
    const store = await openFileEventStore(dir);
    await store.close();
  });

  it('an in-process follower misses no append made while it was busy with earlier events', async () => {
    const dir = await tmp();
    const writer = await openFileEventStore(dir);
    await writer.append([commitDraft(1)]);
    const ac = new AbortController();
    const seen: number[] = [];
    let consuming!: () => void;
    const busy = new Promise<void>((r) => (consuming = r));
    const follower = (async () => {
      for await (const e of writer.follow(0, { signal: ac.signal })) {
        seen.push(e.seq);
        if (e.seq === 1) {
          // A slow consumer: while it handles event 1, the writer appends (and wakes nobody).
          consuming();
          await new Promise((r) => setTimeout(r, 200));
        }
        if (e.seq === 3) break;
      }
    })();
    await busy;
    await writer.append([commitDraft(2)]);
    await writer.append([commitDraft(3)]);
    await Promise.race([follower, new Promise((r) => setTimeout(r, 5_000))]);
    ac.abort();
    expect(seen).toEqual([1, 2, 3]);
    await writer.close();
  });

  it('follows new events in-process and from a read-only reader', async () => {
    const dir = await tmp();
    const writer = await openFileEventStore(dir);
    await writer.append([commitDraft(1)]);
    const reader = await openFileEventStore(dir, { readOnly: true });
    const ac = new AbortController();
    const seenInProcess: number[] = [];
    const seenByReader: number[] = [];
    const inProcess = (async () => {
      for await (const e of writer.follow(0, { signal: ac.signal })) if (seenInProcess.push(e.seq) === 3) break;
    })();
    const byReader = (async () => {
      for await (const e of reader.follow(0, { signal: ac.signal, pollMs: 20 })) if (seenByReader.push(e.seq) === 3) break;
    })();
    await writer.append([commitDraft(2)]);
    await writer.append([commitDraft(3)]);
    await Promise.race([Promise.all([inProcess, byReader]), new Promise((r) => setTimeout(r, 5_000))]);
    ac.abort();
    expect(seenInProcess).toEqual([1, 2, 3]);
    expect(seenByReader).toEqual([1, 2, 3]);
    await reader.close();
    await writer.close();
  });
});
