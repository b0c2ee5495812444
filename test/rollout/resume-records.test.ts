import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { pathViolations } from '../support/host-edges.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const child = fileURLToPath(new URL('../support/crash-rollout.ts', import.meta.url));

/** Runs the rollout child until it exits (or SIGKILLs itself at `kill`, `host/state`). */
function run(dir: string, kill: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, dir, kill], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += String(d)));
    p.stderr.on('data', (d: Buffer) => (out += String(d)));
    const guard = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, out });
    });
  });
}

async function readLog(dir: string): Promise<PalisadeEvent[]> {
  const store = await openFileEventStore(path.join(dir, 'events'), { readOnly: true });
  try {
    return await store.read();
  } finally {
    await store.close();
  }
}

// In path order: `good` is confirmed, `bad` fails its checks, `good` is undone. Each run picks
// up where the previous one was killed and is killed at the next point.
const KILL_POINTS = [
  'good/preflight',
  'good/applying',
  'good/verifying',
  'good/soaking',
  'bad/preflight',
  'bad/applying',
  'bad/verifying',
  'bad/rollingBack',
  'bad/verifyingRollback',
  'good/rollingBack',
  'good/verifyingRollback',
];

describe('resume records (SIGKILL in every host state)', () => {
  it('logs only edges of the host machine, every attempt of a state, and each restart', { timeout: 90_000 }, async () => {
    const dir = await tmp('palisade-resume-records-');
    for (const point of KILL_POINTS) {
      const r = await run(dir, point);
      expect(r.signal, `killed at ${point}: ${r.out}`).toBe('SIGKILL');
      const [host, state] = point.split('/');
      const last = (await readLog(dir)).filter((e) => e.type === 'HostTransition' && e.host === host).at(-1);
      expect(last, `the kill at ${point} landed in that state`).toMatchObject({ to: state });
    }
    const final = await run(dir, 'none/none');
    expect(final.code, final.out).toBe(0);

    const events = await readLog(dir);
    expect(pathViolations(events, 'r1')).toEqual([]);
    const finished = events.filter((e) => e.type === 'RolloutFinished');
    expect(finished).toHaveLength(1);
    // Killed mid-undo, the resumed run finishes the undo: the rollout is rolled back, not halted.
    expect(finished[0]).toMatchObject({ outcome: 'rolledBack', failedHosts: ['bad', 'good'] });

    // Each kill is followed, for that host, by a record of the restart naming the state it was in.
    for (const point of KILL_POINTS) {
      const [host, state] = point.split('/');
      const resumed = events.filter((e) => e.type === 'HostResumed' && e.host === host && e.from === state && e.cause === 'restart');
      expect(resumed.length, `${point}: HostResumed`).toBeGreaterThan(0);
    }
    // Every attempt of a state is in the log: the baseline ran twice on `good` (killed in the
    // first), the post-rollback verification twice on `bad`.
    const entered = (host: string, state: string) => events.filter((e) => e.type === 'HostTransition' && e.host === host && e.to === state).length;
    expect(entered('good', 'preflight')).toBe(2);
    expect(entered('bad', 'verifyingRollback')).toBe(2);
    // The undo of the canary is its own run, recorded as such.
    expect(events.filter((e) => e.type === 'HostResumed' && e.host === 'good' && e.cause === 'undo')).toHaveLength(1);
    for (const h of ['good', 'bad']) expect(events.filter((e) => e.type === 'HostTransition' && e.host === h).at(-1), h).toMatchObject({ to: 'rolledBack' });
  });
});
