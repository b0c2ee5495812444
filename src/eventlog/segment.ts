import { open } from 'node:fs/promises';
import { decodeRecord, findIntactRecordAfter } from './record.js';

/** What reading a segment found after its last intact record. */
export interface Damage {
  offset: number;
  reason: string;
  /** An intact record follows the damage: it cannot be a torn write. */
  intactAfter: boolean;
}

export interface SegmentReadResult {
  /** Offset just past the last intact record read. */
  end: number;
  damage: Damage | null;
}

const CHUNK = 4 << 20;

/**
 * Streams the records of one segment from `from` to `to` (default: end of file) in chunks,
 * so neither opening nor replay needs a whole segment in memory. `onRecord` returning `false`
 * stops early (its record counts as not read).
 */
export async function readSegment(
  path: string,
  from: number,
  to: number | undefined,
  onRecord: (payload: Buffer, offset: number) => boolean | void,
): Promise<SegmentReadResult> {
  const fh = await open(path, 'r');
  try {
    const limit = to ?? (await fh.stat()).size;
    let buf = Buffer.alloc(0);
    let bufStart = from;
    let pos = from;
    let readPos = from;
    for (;;) {
      const rel = pos - bufStart;
      const decoded = decodeRecord(buf, rel);
      if (decoded.kind === 'record') {
        if (onRecord(decoded.payload, pos) === false) return { end: pos, damage: null };
        pos = bufStart + decoded.next;
        continue;
      }
      if (decoded.kind === 'bad') return { end: pos, damage: await describeDamage(fh, pos, limit, decoded.reason) };
      if (readPos >= limit) {
        if (pos === limit) return { end: pos, damage: null };
        return { end: pos, damage: await describeDamage(fh, pos, limit, 'record cut short by end of file') };
      }
      // Keep the unread rest and append the next chunk; a record larger than a chunk grows the buffer.
      const want = Math.min(Math.max(CHUNK, buf.length - rel + CHUNK), limit - readPos);
      const next = Buffer.allocUnsafe(buf.length - rel + want);
      buf.copy(next, 0, rel);
      const { bytesRead } = await fh.read(next, buf.length - rel, want, readPos);
      if (bytesRead === 0) return { end: pos, damage: await describeDamage(fh, pos, limit, 'file shrank while reading') };
      buf = next.subarray(0, buf.length - rel + bytesRead);
      bufStart = pos;
      readPos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

async function describeDamage(fh: import('node:fs/promises').FileHandle, offset: number, limit: number, reason: string): Promise<Damage> {
  const rest = Buffer.allocUnsafe(limit - offset);
  const { bytesRead } = await fh.read(rest, 0, rest.length, offset);
  return { offset, reason, intactAfter: findIntactRecordAfter(rest.subarray(0, bytesRead), 1) !== -1 };
}

/** fsync a directory, so a file created (or renamed) in it survives a crash as an entry, not only as data. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
