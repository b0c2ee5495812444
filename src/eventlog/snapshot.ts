import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import type { PalisadeEvent } from './events.js';
import type { EventStore } from './store.js';

/** A fold over the event log. Bump `version` whenever `apply` or the state's shape changes: old snapshots are then ignored. */
export interface Projection<S> {
  name: string;
  version: number;
  init(): S;
  apply(state: S, event: PalisadeEvent): S;
  /** For states that are not plain JSON (Maps, Sets): how they are written to and read from a snapshot. */
  encode?(state: S): unknown;
  decode?(json: unknown): S;
}

export interface Snapshot<S> {
  projection: string;
  version: number;
  /** Last event folded into `state`. */
  seq: number;
  state: S;
}

/** Snapshots are a cache of the log: losing or rejecting one only costs replay time. */
export interface SnapshotStore {
  load<S>(projection: string): Promise<Snapshot<S> | null>;
  save<S>(snapshot: Snapshot<S>): Promise<void>;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** One JSON file per projection, replaced atomically (write, fsync, rename, fsync directory) and checksummed. */
export function openSnapshotStore(dir: string, logger?: Logger): SnapshotStore {
  const file = (projection: string) => {
    if (!NAME.test(projection)) throw new Error(`snapshot name ${JSON.stringify(projection)} must match ${NAME}`);
    return join(dir, `${projection}.snapshot.json`);
  };
  return {
    async load<S>(projection: string): Promise<Snapshot<S> | null> {
      const text = await readFile(file(projection), 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return null;
        throw e;
      });
      if (text === null) return null;
      const newline = text.indexOf('\n');
      const body = text.slice(newline + 1);
      if (newline === -1 || Number(text.slice(0, newline)) !== crc32(body)) {
        logger?.warn({ file: file(projection) }, 'snapshot fails its checksum; replaying the event log from the start');
        return null;
      }
      return JSON.parse(body) as Snapshot<S>;
    },
    async save<S>(snapshot: Snapshot<S>): Promise<void> {
      await mkdir(dir, { recursive: true });
      const target = file(snapshot.projection);
      const tmp = `${target}.tmp-${process.pid}`;
      const body = JSON.stringify(snapshot);
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(`${crc32(body)}\n${body}`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, target);
      const d = await open(dir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    },
  };
}

export interface ReplayOptions {
  /** Save a snapshot after this many events folded since the last one. Default 10,000. */
  every?: number;
}

export interface ReplayResult<S> {
  state: S;
  /** Last event folded. */
  seq: number;
  /** Seq of the snapshot replay started from, 0 for a full replay. */
  fromSnapshot: number;
}

type Iterable = EventStore & { iterate?: (since?: number) => AsyncIterable<PalisadeEvent[]> };

/** Rebuilds a projection: newest usable snapshot, then the events after it, snapshotting as it goes. */
export async function replay<S>(store: Iterable, projection: Projection<S>, snapshots?: SnapshotStore, opts: ReplayOptions = {}): Promise<ReplayResult<S>> {
  const every = opts.every ?? 10_000;
  const head = await store.head();
  const snap = await snapshots?.load<S>(projection.name);
  // A snapshot ahead of the log (log restored from an older backup) describes events that do not exist.
  const usable = snap && snap.version === projection.version && snap.projection === projection.name && snap.seq <= head ? snap : null;
  let state = usable ? (projection.decode ? projection.decode(usable.state) : usable.state) : projection.init();
  let seq = usable ? usable.seq : 0;
  let lastSaved = seq;
  const batches = store.iterate ? store.iterate(seq) : [await store.read(seq)];
  for await (const batch of batches) {
    for (const event of batch) {
      state = projection.apply(state, event);
      seq = event.seq;
    }
    if (snapshots && seq - lastSaved >= every) {
      await snapshots.save({ projection: projection.name, version: projection.version, seq, state: projection.encode ? projection.encode(state) : state });
      lastSaved = seq;
    }
  }
  return { state, seq, fromSnapshot: usable?.seq ?? 0 };
}
