import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { EventLogError } from '../../src/eventlog/errors.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { driversFromHostsFile } from '../../src/hosts/drivers.js';
import { labDown, labPrerequisites, labUp, listLabNamespaces, type LabDescription } from '../../src/lab/lab.js';
import { TestRepo } from '../support/repo.js';
import { commitExactly, FIVE_HOSTS, hostEndpoints, rolloutYaml, tables, transitionsOf, waitFor, webPolicy } from '../support/rollout-lab.js';

const pre = await labPrerequisites();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The reconciler as an operator runs it (`palisade reconcile --once`, a child process),
 * SIGKILLed while the second wave soaks and started again: the rollout resumes from the event
 * log, finishes, applies no host twice, and honours the soak deadline recorded before the kill.
 */

const SOAK_MS = 6000;
// Into the second wave's soak before the kill: the restart must find time left, not a fresh soak.
const KILL_AFTER_SOAKING_MS = 2000;

interface Run {
  child: ChildProcess;
  lines: string[];
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function reconcileOnce(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', ...args, '--once'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + d.toString()).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  child.stderr!.on('data', (d: Buffer) => lines.push(`stderr: ${d.toString()}`));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, lines, exit };
}

/**
 * `nft monitor` in a host's namespace: every rule the kernel adds to any table there, so a second
 * apply of the same revision cannot hide behind idempotent event keys.
 */
/** One nft batch inside a namespace (the test's own marker table, never Palisade's). */
function nftIn(namespace: string, batch: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nft in ${namespace} exited ${code}`))));
    child.stdin!.end(batch);
  });
}

function monitor(namespace: string): { lines: string[]; ready: Promise<void>; stop(): void } {
  // Line-buffered: piped, nft holds its output in a 4 KiB stdio buffer that a kill throws away.
  const child = spawn('ip', ['netns', 'exec', namespace, 'stdbuf', '-oL', 'nft', 'monitor', 'ruleset'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const lines: string[] = [];
  let partial = '';
  let seenMarker: () => void = () => undefined;
  const marker = new Promise<void>((resolve) => (seenMarker = resolve));
  child.stdout.on('data', (d: Buffer) => {
    const text = partial + d.toString();
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete.filter(Boolean)) {
      if (line.includes('palisade_monitor_ready')) seenMarker();
      else lines.push(line);
    }
  });
  // Spawned is not listening: only once the monitor has echoed a marker table is it subscribed.
  const ready = (async () => {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    const deadline = Date.now() + 10_000;
    let seen = false;
    void marker.then(() => (seen = true));
    while (!seen) {
      if (Date.now() > deadline) throw new Error(`nft monitor in ${namespace} did not start listening`);
      await nftIn(namespace, 'table inet palisade_monitor_ready {}\ndelete table inet palisade_monitor_ready\n');
      await Promise.race([marker, new Promise((r) => setTimeout(r, 200))]);
    }
  })();
  return { lines, ready, stop: () => child.kill('SIGKILL') };
}

describe.skipIf(!pre.ok)('reconciler killed mid-wave and restarted (child process, SIGKILL)', () => {
  let work: string;
  let lab: LabDescription | null = null;
  const runs: Run[] = [];
  const monitors: ReturnType<typeof monitor>[] = [];

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-restart-e2e-'));
    lab = await labUp(FIVE_HOSTS);
  });

  // Per attempt, not per file: a retried attempt must not meet the last one's reconciler holding its log.
  afterEach(async () => {
    for (const r of runs.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
      await r.exit;
    }
    for (const m of monitors.splice(0)) m.stop();
  });

  afterAll(async () => {
    if (lab) {
      await labDown(lab);
      expect(await listLabNamespaces(lab.id)).toEqual([]);
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('resumes from the log, applies no host twice and honours the recorded soak deadline', { timeout: 120_000 }, async () => {
    const attempt = await mkdtemp(path.join(work, 'attempt-'));
    const repo = await TestRepo.create(path.join(attempt, 'repo'));
    const state = path.join(attempt, 'state');
    const hostsFile = path.join(attempt, 'hosts.json');
    await writeFile(hostsFile, JSON.stringify(hostsFileForLab(lab!)));
    const drivers = driversFromHostsFile(hostsFileForLab(lab!));
    const revision = await commitExactly(
      repo,
      {
        'palisade.yaml': rolloutYaml(`soak: ${SOAK_MS}ms\nsoakInterval: 500ms\ncheckAttempts: 1\n`),
        'hosts.yaml': hostEndpoints(),
        'web.yaml': webPolicy([80]),
      },
      'web on workers',
    );
    for (const h of lab!.hosts) monitors.push(monitor(h.namespace));
    await Promise.all(monitors.map((m) => m.ready));
    const args = ['--repo', repo.dir, '--state', state, '--hosts', hostsFile, '--poll-interval', '200'];

    const readLog = async (): Promise<PalisadeEvent[]> => {
      if (!existsSync(path.join(state, 'events'))) return [];
      // The directory exists a moment before its first segment does: that is still an empty log.
      const reader = await openFileEventStore(path.join(state, 'events'), { readOnly: true }).catch((e: unknown) => {
        if (e instanceof EventLogError && e.code === 'EVENTLOG_READONLY') return null;
        throw e;
      });
      if (!reader) return [];
      try {
        return await reader.read();
      } finally {
        await reader.close();
      }
    };
    const ringTwo = (events: PalisadeEvent[]) => transitionsOf(events, revision).filter((t) => t.wave === 1);

    const first = reconcileOnce(args);
    runs.push(first);
    const soaking = await waitFor(
      'ring two soaking',
      async () => {
        if (first.child.exitCode !== null) throw new Error(`reconciler exited early (${first.child.exitCode}):\n${first.lines.join('\n')}`);
        const s = ringTwo(await readLog()).filter((t) => t.to === 'soaking');
        return s.length === 2 ? s : undefined;
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, KILL_AFTER_SOAKING_MS));
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');

    // The kill landed mid-soak: ring two is still soaking in the log, the rest untouched.
    const atKill = await readLog();
    expect(ringTwo(atKill).map((t) => t.to)).not.toContain('confirmed');
    expect(transitionsOf(atKill, revision).filter((t) => t.wave === 2)).toEqual([]);
    expect(atKill.some((e) => e.type === 'RolloutFinished')).toBe(false);

    const restartedAt = Date.now();
    const second = reconcileOnce(args);
    runs.push(second);
    expect(await second.exit, second.lines.join('\n')).toEqual({ code: 0, signal: null });

    const events = await readLog();
    expect(events.filter((e) => e.type === 'RolloutFinished')).toMatchObject([{ revision, outcome: 'completed', failedHosts: [] }]);
    const seen = transitionsOf(events, revision);
    for (const host of FIVE_HOSTS) expect(seen.filter((t) => t.host === host).at(-1)?.to, host).toBe('confirmed');

    // No host applied twice, by the log, by both processes' own log lines, and by the kernel.
    const logLines = [...first.lines, ...second.lines].flatMap((l) => {
      try {
        return [JSON.parse(l) as { event?: string; host?: string; from?: string; to?: string }];
      } catch {
        return [];
      }
    });
    const nftRule = /comment "policy k8s-worker /;
    const finalTables = await tables(drivers);
    for (const [i, host] of FIVE_HOSTS.entries()) {
      for (const [from, to] of [['preflight', 'applying'], ['applying', 'verifying']]) {
        expect(seen.filter((t) => t.host === host && t.from === from && t.to === to), `${host} ${from}->${to} in the log`).toHaveLength(1);
        expect(logLines.filter((l) => l.event === 'HostTransition' && l.host === host && l.from === from && l.to === to), `${host} ${from}->${to} logged`).toHaveLength(1);
      }
      const added = monitors[i]!.lines.filter((l) => l.startsWith('add rule') && nftRule.test(l)).length;
      const inTable = (finalTables[host] ?? '').split('\n').filter((l) => nftRule.test(l)).length;
      expect(inTable, `${host}: rules of the revision in its table`).toBeGreaterThan(0);
      expect(added, `${host}: rules of the revision the kernel was given`).toBe(inTable);
    }

    // The resumed soak ended at the deadline recorded before the kill: not earlier, and well
    // before a soak started afresh by the second process could have ended.
    for (const s of soaking) {
      const confirmed = seen.find((t) => t.host === s.host && t.to === 'confirmed')!;
      expect(confirmed.from).toBe('soaking');
      const confirmedAt = Date.parse(confirmed.time);
      expect(confirmedAt, `${s.host} confirmed before its soak deadline`).toBeGreaterThanOrEqual(s.soakUntil! - 5);
      expect(confirmedAt, `${s.host} soaked afresh after the restart`).toBeLessThan(restartedAt + SOAK_MS);
    }
  });
});
