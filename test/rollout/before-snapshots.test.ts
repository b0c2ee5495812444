import { appendFile, open, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeRecord } from '../../src/eventlog/record.js';
import { BeforeSnapshots, BeforeSnapshotsError } from '../../src/rollout/before-snapshots.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);

/** FileHandle's prototype, so its methods can be watched: node creates handles internally. */
async function fileHandlePrototype(dir: string) {
  const fh = await open(path.join(dir, 'probe'), 'w');
  await fh.close();
  return Object.getPrototypeOf(fh) as { datasync(): Promise<void>; write(...args: unknown[]): Promise<{ bytesWritten: number }> };
}

async function theFile(dir: string): Promise<string> {
  const [name, ...more] = (await readdir(dir)).filter((n) => n.endsWith('.snapshots'));
  expect(more).toEqual([]);
  return path.join(dir, name!);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('BeforeSnapshots', () => {
  it('the first snapshot per (host, revision) wins, concurrently, later and after a restart', async () => {
    const dir = await tmp('palisade-before-');
    const s = new BeforeSnapshots(dir);
    await Promise.all([s.putIfAbsent('a', 'r1', 'first'), s.putIfAbsent('a', 'r1', 'second')]);
    await s.putIfAbsent('a', 'r1', 'third');
    await s.putIfAbsent('a', 'r2', null);
    expect(await s.get('a', 'r1')).toEqual({ snapshot: 'first' });
    expect(await s.get('a', 'r2')).toEqual({ snapshot: null });
    expect(await s.get('b', 'r1')).toBeUndefined();

    const restarted = new BeforeSnapshots(dir);
    await restarted.putIfAbsent('a', 'r1', 'after restart');
    expect(await restarted.get('a', 'r1')).toEqual({ snapshot: 'first' });
    expect(await restarted.get('a', 'r2')).toEqual({ snapshot: null });
  });

  it('a put resolves only once its snapshot is synced; snapshots put together share one write and one fsync', async () => {
    const dir = await tmp('palisade-before-');
    const proto = await fileHandlePrototype(dir);
    const log: string[] = [];
    const datasync = proto.datasync;
    vi.spyOn(proto, 'datasync').mockImplementation(async function (this: unknown) {
      await datasync.call(this);
      log.push('synced');
    });
    const s = new BeforeSnapshots(dir);
    await Promise.all(hosts(50).map((h) => s.putIfAbsent(h, 'r1', `table of ${h}`).then(() => log.push(`resolved ${h}`))));
    expect(log).toEqual(['synced', ...hosts(50).map((h) => `resolved ${h}`)]);

    // Once resolved it is in the file, readable by another process.
    const fresh = new BeforeSnapshots(dir);
    for (const h of hosts(50)) expect(await fresh.get(h, 'r1')).toEqual({ snapshot: `table of ${h}` });
  });

  it('a tail torn by a crash is tolerated on read and cut off by the next write', async () => {
    const dir = await tmp('palisade-before-');
    const s = new BeforeSnapshots(dir);
    await Promise.all(['a', 'b', 'c'].map((h) => s.putIfAbsent(h, 'r1', `table of ${h}`)));
    const file = await theFile(dir);
    const intact = (await stat(file)).size;
    const torn = encodeRecord(Buffer.from(JSON.stringify({ host: 'd', snapshot: 'never acknowledged' })));
    await appendFile(file, torn.subarray(0, torn.length - 5));

    const restarted = new BeforeSnapshots(dir);
    expect(await restarted.get('c', 'r1')).toEqual({ snapshot: 'table of c' });
    expect(await restarted.get('d', 'r1')).toBeUndefined();
    await restarted.putIfAbsent('d', 'r1', 'table of d');
    expect(await restarted.get('d', 'r1')).toEqual({ snapshot: 'table of d' });

    const again = new BeforeSnapshots(dir);
    for (const h of ['a', 'b', 'c', 'd']) expect(await again.get(h, 'r1')).toEqual({ snapshot: `table of ${h}` });
    const recordOfD = encodeRecord(Buffer.from(JSON.stringify({ host: 'd', snapshot: 'table of d' })));
    expect((await stat(file)).size).toBe(intact + recordOfD.length);
  });

  it('a write that failed halfway is cut off before the next one, and its host can try again', async () => {
    const dir = await tmp('palisade-before-');
    const s = new BeforeSnapshots(dir);
    await s.putIfAbsent('a', 'r1', 'table of a');
    const proto = await fileHandlePrototype(dir);
    const write = proto.write;
    vi.spyOn(proto, 'write').mockImplementationOnce(async function (this: unknown, buf: unknown, offset: unknown, length: unknown, position: unknown) {
      await write.call(this, buf, offset, Math.floor((length as number) / 2), position);
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    });
    await expect(s.putIfAbsent('b', 'r1', 'a long table of b')).rejects.toThrow('ENOSPC');
    expect(await s.get('b', 'r1')).toBeUndefined();
    await s.putIfAbsent('c', 'r1', 'c');
    await s.putIfAbsent('b', 'r1', 'table of b');

    const restarted = new BeforeSnapshots(dir);
    for (const [h, t] of [['a', 'table of a'], ['b', 'table of b'], ['c', 'c']]) expect(await restarted.get(h!, 'r1')).toEqual({ snapshot: t });
  });

  it('damage followed by intact records is not a torn tail: it is refused loudly, nothing skipped', async () => {
    const dir = await tmp('palisade-before-');
    const s = new BeforeSnapshots(dir);
    await s.putIfAbsent('a', 'r1', 'table of a');
    await s.putIfAbsent('b', 'r1', 'table of b');
    const file = await theFile(dir);
    const bytes = await readFile(file);
    bytes.writeUInt8(bytes.readUInt8(20) ^ 0xff, 20);
    await writeFile(file, bytes);
    await expect(new BeforeSnapshots(dir).get('b', 'r1')).rejects.toThrow(BeforeSnapshotsError);
  });

  it('forgets a finished revision: its file is removed, and a later put starts afresh', async () => {
    const dir = await tmp();
    const s = new BeforeSnapshots(dir);
    await s.putIfAbsent('node-a', 'r1', 'old');
    await s.putIfAbsent('node-a', 'r2', 'other');
    await s.discard('r1');
    expect((await readdir(dir)).sort()).toEqual(['r2.snapshots']);
    expect(await new BeforeSnapshots(dir).get('node-a', 'r1')).toBeUndefined();
    await s.putIfAbsent('node-a', 'r1', 'new');
    expect(await new BeforeSnapshots(dir).get('node-a', 'r1')).toEqual({ snapshot: 'new' });
  });
});
