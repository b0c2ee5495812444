import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APPLY_SCRIPT, CONFIRM_SCRIPT, parseJournalLine, RESTORE_SCRIPT } from '../../src/hosts/ssh/remote-scripts.js';
import { labPrerequisites } from '../../src/lab/lab.js';
import { isRunning } from '../../src/lab/lab-sshd.js';
import { sh, uniqueName } from '../support/netns.js';

const pre = await labPrerequisites();

/**
 * The host's half of a commit-confirmed apply, run as sshd would run it (`sh -c SCRIPT`) inside a
 * scratch namespace: the lock, adoption by a restarted reconciler, the watchdog and its races.
 * No SSH here: the e2e tests drive the same scripts over real OpenSSH.
 */
const table = (port: number) => `table inet palisade {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\ttcp dport ${port} accept comment "t${port}"\n\t}\n}\n`;

describe.skipIf(!pre.ok)('ssh host scripts (lock, watchdog, confirm, rollback) in a namespace', () => {
  let ns: string;
  let dir: string;
  const started: number[] = [];

  const script = (text: string, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', text, 'palisade', dir, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
      started.push(child.pid!);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() }));
      child.stdin.end(stdin);
    });
  const listing = async () => sh('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', 'palisade']).catch(() => '');
  const events = async () => (await readFile(path.join(dir, 'journal'), 'utf8')).split('\n').flatMap((l) => parseJournalLine(l) ?? []).map((l) => `${l.event} ${l.id}`);
  const watchdogPid = async () => Number(await readFile(path.join(dir, 'lock', 'pid'), 'utf8'));
  const gone = async (pid: number) => {
    for (let i = 0; i < 100 && isRunning(pid); i++) await new Promise((r) => setTimeout(r, 50));
    return !isRunning(pid);
  };

  beforeAll(async () => {
    ns = uniqueName('pscr');
    await sh('ip', ['netns', 'add', ns]);
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-host-state-'));
  });

  afterAll(async () => {
    const pids = (await sh('ip', ['netns', 'pids', ns]).catch(() => '')).split(/\s+/).filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it('one apply at a time: a second is refused while the first is armed; the same ruleset is adopted, not applied again', async () => {
    const a = await script(APPLY_SCRIPT, ['aaaa-1', 'hash-a', '30'], table(22));
    expect(a).toMatchObject({ code: 0 });
    expect(a.stdout).toMatch(/^applied aaaa-1 \d+$/);
    expect(await listing()).toContain('t22');
    const other = await script(APPLY_SCRIPT, ['bbbb-1', 'hash-b', '30'], table(23));
    expect(other.code).toBe(75);
    expect(other.stderr).toMatch(/^locked by apply aaaa-1 \(ruleset hash-a, revert armed until \d+\)$/);
    // A restarted reconciler applies the same ruleset under a new id: it adopts the armed one.
    const again = await script(APPLY_SCRIPT, ['aaaa-2', 'hash-a', '30'], table(22));
    expect(again.stdout).toMatch(/^adopted aaaa-1 \d+$/);
    const pid = await watchdogPid();
    expect(await script(CONFIRM_SCRIPT, ['aaaa-1'])).toMatchObject({ code: 0, stdout: 'confirmed aaaa-1' });
    expect(await gone(pid)).toBe(true);
    expect(await events()).toEqual(['armed aaaa-1', 'applied aaaa-1', 'confirmed aaaa-1']);
    expect(await script(CONFIRM_SCRIPT, ['-'])).toMatchObject({ code: 0, stdout: 'none' });
  });

  it('unconfirmed, the watchdog restores the saved table by itself, also when the caller was killed; a late confirm is refused', async () => {
    const before = await listing();
    const child = spawn('ip', ['netns', 'exec', ns, 'sh', '-c', `${APPLY_SCRIPT}\nsleep 30`, 'palisade', dir, 'cccc-1', 'hash-c', '1'], { stdio: ['pipe', 'ignore', 'ignore'] });
    started.push(child.pid!);
    child.stdin.end(table(24));
    await new Promise((r) => setTimeout(r, 700));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(await listing()).toContain('t24');
    const pid = await watchdogPid();
    expect(await gone(pid)).toBe(true);
    expect(await listing()).toBe(before);
    const late = await script(CONFIRM_SCRIPT, ['cccc-1']);
    expect(late.code).toBe(3);
    expect(parseJournalLine(late.stdout)).toMatchObject({ event: 'reverted', id: 'cccc-1', hash: 'hash-c', text: 'not confirmed within 1 s' });
    // The same ruleset is not applied again until something else happened on the host.
    expect((await script(APPLY_SCRIPT, ['cccc-2', 'hash-c', '30'], table(24))).code).toBe(76);
  });

  it('a lock whose watchdog is gone (host rebooted) is reverted at the next contact; a rollback disarms what is armed', async () => {
    const before = await listing();
    expect((await script(APPLY_SCRIPT, ['dddd-1', 'hash-d', '30'], table(25))).code).toBe(0);
    process.kill(-(await watchdogPid()), 'SIGKILL');
    const next = await script(APPLY_SCRIPT, ['eeee-1', 'hash-e', '30'], table(26));
    expect(next.code).toBe(0);
    expect((await events()).slice(-5)).toEqual(['armed dddd-1', 'applied dddd-1', 'reverted dddd-1', 'armed eeee-1', 'applied eeee-1']);
    expect(await listing()).toContain('t26');
    const pid = await watchdogPid();
    const back = await script(RESTORE_SCRIPT, [], before);
    expect(back.code).toBe(0);
    expect(parseJournalLine(back.stdout.replace(/^found /, ''))).toMatchObject({ event: 'applied', id: 'eeee-1' });
    expect(await gone(pid)).toBe(true);
    expect(await listing()).toBe(before);
    expect((await events()).slice(-2)).toEqual(['disarmed eeee-1', 'restored -']);
    // Rolling back to what the table already holds writes nothing.
    expect((await script(RESTORE_SCRIPT, [], before)).code).toBe(0);
    expect((await events()).at(-1)).toBe('unchanged -');
  });
});
