import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openSnapshotStore, replay } from '../../src/eventlog/snapshot.js';
import { planKeys, tallyProjection } from '../support/crash-plan.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const writer = fileURLToPath(new URL('../support/crash-writer.ts', import.meta.url));
const COMMITS = 400;
const ITERATIONS = 24; // ~0.35 s of tsx start-up each: keeps the test under 20 s on a loaded 2-core machine

/** Deterministic, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Run {
  maxAck: number;
  done: boolean;
}

/** Starts the writer; kills it `killAfterMs` after it reported ready (never, when undefined). */
function runWriter(dir: string, killAfterMs: number | undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, String(COMMITS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const run: Run = { maxAck: 0, done: false };
    let out = '';
    let err = '';
    const guard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stderr.on('data', (d: Buffer) => (err += String(d)));
    child.stdout.on('data', (d: Buffer) => {
      out += String(d);
      const lines = out.split('\n');
      out = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ack ')) run.maxAck = Math.max(run.maxAck, Number(line.slice(4)));
        else if (line === 'done') run.done = true;
        else if (line.startsWith('ready') && killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (signal === 'SIGKILL' || code === 0) resolve(run);
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

async function check(dir: string, maxAck: number, keys: string[]): Promise<number> {
  const store = await openFileEventStore(dir);
  try {
    const events = await store.read();
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    // Nothing acknowledged is lost; the log is exactly a prefix of the planned work, each event once.
    expect(events.length).toBeGreaterThanOrEqual(maxAck);
    expect(events.map((e) => e.key)).toEqual(keys.slice(0, events.length));
    const fromSnapshot = await replay(store, tallyProjection, openSnapshotStore(join(dir, 'snapshots')));
    const clean = await replay(store, tallyProjection);
    expect(fromSnapshot.state).toEqual(clean.state);
    return events.length;
  } finally {
    await store.close();
  }
}

describe('crash safety', () => {
  it('loses and duplicates nothing when the writer is SIGKILLed at random points, and a redo completes the work', async () => {
    const dir = await tmp('palisade-crash-');
    const keys = planKeys(COMMITS);
    const random = prng(0x5eed);
    let maxAck = 0;
    const lengths: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      const run = await runWriter(dir, Math.floor(random() * 80));
      maxAck = Math.max(maxAck, run.maxAck);
      lengths.push(await check(dir, maxAck, keys));
    }
    // The kills must actually have interrupted work, or this test proves nothing.
    expect(lengths[0]).toBeGreaterThan(0);
    expect(lengths[0]).toBeLessThan(keys.length);
    const final = await runWriter(dir, undefined);
    expect(final.done).toBe(true);
    expect(await check(dir, final.maxAck, keys)).toBe(keys.length);
  }, 60_000);
});
