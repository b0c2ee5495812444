import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { decodeRecord, encodeRecord, HEADER_BYTES } from '../eventlog/record.js';
import { readSegment, syncDir } from '../eventlog/segment.js';

export class BeforeSnapshotsError extends Error {
  readonly code = 'BEFORE_SNAPSHOTS_CORRUPT';
}

interface Stored {
  host: string;
  snapshot: string | null;
}

/** Where a host's record sits in its revision's file. */
interface Location {
  offset: number;
  length: number;
}

interface Pending {
  record: Buffer;
  resolve(at: Location): void;
  reject(e: unknown): void;
}

/**
 * What each host's table held before a revision touched it: the ruleset a rollback restores.
 * Durable before the apply, so a reconciler that dies between apply and confirmation still knows
 * how to undo it after a restart. The first snapshot per (host, revision) wins: a resumed apply
 * must not record its own half-done state as "before".
 *
 * One append-only file per revision, records framed and checksummed as in the event log. Hosts
 * apply in parallel, so snapshots queued while one write is on its way to disk go out together
 * in the next write with one fsync (group commit), not one file and one fsync per host.
 */
/**
 * What each host's table held before a revision touched it: what a rollback restores. Durable
 * before the apply starts (so a reconciler that dies mid-apply can still undo it), first
 * snapshot per (host, revision) wins (a resumed apply must not record its own half-done state as
 * "before"). The embedded store keeps it on local disk; a highly available reconciler keeps it
 * in etcd, so the leader that takes over can roll back what its predecessor applied.
 */
export interface BeforeSnapshotStore {
  get(host: string, revision: string): Promise<{ snapshot: string | null } | undefined>;
  /** Resolves once this host's first snapshot for the revision — this one or an earlier — is durable. */
  putIfAbsent(host: string, revision: string, snapshot: string | null): Promise<void>;
  /** The revision's rollout is over: its snapshots are no longer needed. */
  discard(revision: string): Promise<void>;
}

export class BeforeSnapshots implements BeforeSnapshotStore {
  private readonly revisions = new Map<string, Promise<RevisionSnapshots>>();

  constructor(private readonly dir: string) {}

  async get(host: string, revision: string): Promise<{ snapshot: string | null } | undefined> {
    return (await this.revision(revision)).get(host);
  }

  /** Resolves once this host's first snapshot for the revision — this one or an earlier — is durable. */
  async putIfAbsent(host: string, revision: string, snapshot: string | null): Promise<void> {
    return (await this.revision(revision)).putIfAbsent(host, snapshot);
  }

  async discard(revision: string): Promise<void> {
    this.revisions.delete(revision);
    await rm(this.fileOf(revision), { force: true });
  }

  private fileOf(revision: string): string {
    return path.join(this.dir, `${encodeURIComponent(revision)}.snapshots`);
  }

  private revision(revision: string): Promise<RevisionSnapshots> {
    let r = this.revisions.get(revision);
    if (!r) {
      r = RevisionSnapshots.open(this.fileOf(revision), this.dir);
      // A failed open is retried by the next caller rather than remembered.
      r.catch(() => this.revisions.delete(revision));
      this.revisions.set(revision, r);
    }
    return r;
  }
}

class RevisionSnapshots {
  private readonly located = new Map<string, Promise<Location>>();
  private queue: Pending[] = [];
  private flushing = false;
  /** Bytes of durable records; the next batch is written here, over whatever a failed one left. */
  private end = 0;
  private torn = false;

  private constructor(private readonly file: string) {}

  /** Indexes the file; a tail torn by a crash (never acknowledged) is cut off. */
  static async open(file: string, dir: string): Promise<RevisionSnapshots> {
    const r = new RevisionSnapshots(file);
    await mkdir(dir, { recursive: true });
    let fh: FileHandle;
    try {
      fh = await open(file, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      await r.load();
      return r;
    }
    // A new file must survive a crash as an entry of its directory, not only as data.
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await syncDir(dir);
    return r;
  }

  private async load(): Promise<void> {
    const { end, damage } = await readSegment(this.file, 0, undefined, (payload, offset) => {
      const { host } = JSON.parse(payload.toString('utf8')) as Stored;
      if (!this.located.has(host)) this.located.set(host, Promise.resolve({ offset, length: HEADER_BYTES + payload.length }));
    });
    if (damage?.intactAfter) {
      throw new BeforeSnapshotsError(`before-snapshots ${this.file} are damaged at offset ${damage.offset} (${damage.reason}) and intact records follow; restore it from a backup`);
    }
    this.end = end;
    this.torn = damage !== null;
  }

  async get(host: string): Promise<{ snapshot: string | null } | undefined> {
    const at = this.located.get(host);
    if (!at) return undefined;
    const { offset, length } = await at;
    const fh = await open(this.file, 'r');
    try {
      const buf = Buffer.allocUnsafe(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      const decoded = decodeRecord(buf.subarray(0, bytesRead), 0);
      if (decoded.kind !== 'record') throw new BeforeSnapshotsError(`before-snapshots ${this.file}: the record of ${host} at offset ${offset} is unreadable`);
      return { snapshot: (JSON.parse(decoded.payload.toString('utf8')) as Stored).snapshot };
    } finally {
      await fh.close();
    }
  }

  async putIfAbsent(host: string, snapshot: string | null): Promise<void> {
    let at = this.located.get(host);
    if (!at) {
      const record = encodeRecord(Buffer.from(JSON.stringify({ host, snapshot } satisfies Stored)));
      const mine = new Promise<Location>((resolve, reject) => this.queue.push({ record, resolve, reject }));
      at = mine;
      // A snapshot that never reached the disk is no snapshot: the host's next attempt writes it.
      mine.catch(() => {
        if (this.located.get(host) === mine) this.located.delete(host);
      });
      this.located.set(host, mine);
      if (!this.flushing) {
        this.flushing = true;
        void this.flush();
      }
    }
    await at;
  }

  /** Group commit: batches are strictly sequential, so only the last one can ever be torn. */
  private async flush(): Promise<void> {
    let fh: FileHandle | null = null;
    try {
      while (this.queue.length > 0) {
        // Opening first lets the snapshots queued meanwhile join this batch.
        try {
          fh ??= await open(this.file, 'r+');
        } catch (e) {
          for (const p of this.queue.splice(0)) p.reject(e);
          continue;
        }
        const batch = this.queue.splice(0);
        const buf = Buffer.concat(batch.map((p) => p.record));
        try {
          if (this.torn) {
            await fh.truncate(this.end);
            this.torn = false;
          }
          let written = 0;
          while (written < buf.length) written += (await fh.write(buf, written, buf.length - written, this.end + written)).bytesWritten;
          await fh.datasync();
        } catch (e) {
          // Part of the batch may be on disk: the next batch first cuts it off.
          this.torn = true;
          for (const p of batch) p.reject(e);
          continue;
        }
        let offset = this.end;
        for (const p of batch) {
          p.resolve({ offset, length: p.record.length });
          offset += p.record.length;
        }
        this.end = offset;
      }
    } finally {
      this.flushing = false;
      // Everything acknowledged is already synced; a failing close cannot take it back.
      await fh?.close().catch(() => undefined);
    }
  }
}
