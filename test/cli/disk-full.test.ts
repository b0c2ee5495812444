import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { afterAll, describe, expect, it } from 'vitest';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { project } from '../../src/state/projections.js';
import { until } from '../support/until.js';

/**
 * `palisade reconcile` with its state directory on a 1 MiB tmpfs, mounted in a private mount
 * namespace of the reconciler's own (`unshare -m`): no system mount is touched, and the mount
 * goes away with the process. The test reaches the files through /proc/PID/root.
 */
const ROOT = path.resolve(new URL('../..', import.meta.url).pathname);
const canMount = process.getuid?.() === 0 && fs.existsSync('/usr/bin/unshare');
const author = { name: 'ops', email: 'ops@palisade.invalid' };
const HOSTS = ['node-a', 'node-b'];
const hep = (name: string, i: number) =>
  `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: ${name}-eth0\n  labels:\n    role: worker\nspec:\n  node: ${name}\n  interfaceName: eth0\n  expectedIPs: ["198.18.0.${11 + i}"]\n`;
const web = (port: number) =>
  `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: web\nspec:\n  selector: role == 'worker'\n  ingress:\n    - action: Allow\n      protocol: TCP\n      destination:\n        ports: [${port}]\n`;


let work: string | undefined;
let child: ChildProcess | undefined;

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
  }
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!canMount)('event log on a full disk (tmpfs in a private mount namespace)', () => {
  it('reports not-ready with the reason, applies nothing, and resumes by itself once space returns', { timeout: 90_000 }, async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-disk-full-'));
    const repo = path.join(work, 'repo');
    const state = path.join(work, 'state');
    fs.mkdirSync(repo);
    fs.mkdirSync(state);
    await git.init({ fs, dir: repo, defaultBranch: 'main' });
    const commit = async (files: Record<string, string>, message: string) => {
      for (const [name, content] of Object.entries(files)) await writeFile(path.join(repo, name), content);
      await git.add({ fs, dir: repo, filepath: '.' });
      return git.commit({ fs, dir: repo, message, author });
    };
    const hostsFile = path.join(work, 'hosts.json');
    await writeFile(
      hostsFile,
      JSON.stringify({ management: { address: '198.18.0.1' }, hosts: HOSTS.map((name, i) => ({ kind: 'simulated', name, address: `198.18.0.${11 + i}`, interfaces: [{ name: 'eth0', addresses: [`198.18.0.${11 + i}`] }] })) }),
    );
    const first = await commit({ 'hosts.yaml': HOSTS.map(hep).join('---\n'), 'web.yaml': web(80), 'palisade.yaml': 'soak: 0\ncheckAttempts: 1\n' }, 'web on 80');

    const args = ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', '--repo', repo, '--state', state, '--hosts', hostsFile, '--poll-interval', '200', '--listen', '127.0.0.1:0', '--drift-interval', '0'];
    child = spawn('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -t tmpfs -o size=1m palisade-test "$0" && exec "$@"', state, process.execPath, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += String(d)));
    child.stderr!.on('data', (d: Buffer) => (output += String(d)));
    // The reconciler's view of the state directory: on its tmpfs.
    const seen = () => path.join(`/proc/${child!.pid}/root`, state);
    const readLog = async (): Promise<PalisadeEvent[]> => {
      const store = await openFileEventStore(path.join(seen(), 'events'), { readOnly: true });
      try {
        return await store.read();
      } finally {
        await store.close();
      }
    };
    const outcomeOf = async (revision: string) => project(await readLog()).revisions.get(revision)?.outcome ?? undefined;
    const url = await until('the HTTP endpoint', async () => (JSON.parse(await readFile(path.join(seen(), 'http.json'), 'utf8')) as { url: string }).url);
    expect(await until('the first rollout', () => outcomeOf(first), 30_000), output).toBe('completed');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    // The first rollout's clean-up (its before-snapshots) frees space when it runs: wait until
    // the state directory stops changing, or the space it frees later lets the log recover early.
    const footprint = () => fs.readdirSync(seen(), { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => `${d.parentPath}/${d.name}:${fs.statSync(path.join(d.parentPath, d.name)).size}`).sort().join('\n');
    let last = footprint();
    await until('the state directory to settle', async () => {
      await new Promise((r) => setTimeout(r, 400));
      const now = footprint();
      const settled = now === last;
      last = now;
      return settled || undefined;
    });
    // Fill the tmpfs to the last byte.
    const filler = path.join(seen(), 'filler');
    const fill = () => {
      for (const size of [16 << 10, 4096, 512, 1]) {
        try {
          for (let i = 0; i < 1000; i++) fs.appendFileSync(filler, Buffer.alloc(size));
        } catch (e) {
          expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
        }
      }
    };
    fill();

    const second = await commit({ 'web.yaml': web(8080) }, 'web on 8080');
    const notReady = await until('/readyz to say why it is not ready', async () => {
      const res = await fetch(`${url}/readyz`);
      return res.status === 503 ? res.text() : undefined;
    });
    expect(notReady).toMatch(/^not ready: the event log cannot be written since .*no space left on the device/);
    // Take back any page the failed write's clean-up gave up.
    fill();
    // While the log cannot record, nothing of the second revision reaches a host.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await readLog()).filter((e) => e.revision === second && e.type === 'HostTransition')).toEqual([]);
    expect((await fetch(`${url}/readyz`)).status).toBe(503);

    fs.rmSync(filler);
    expect(await until('the second rollout, without a restart', () => outcomeOf(second), 30_000), output).toBe('completed');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const events = await readLog();
    // Intact: gap-free, each key once, and the second revision observed exactly once.
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(new Set(events.map((e) => e.key)).size).toBe(events.length);
    expect(events.filter((e) => e.revision === second && e.type === 'CommitObserved')).toHaveLength(1);
    expect(child.exitCode).toBeNull();
    expect(output).toMatch(/EventLogWritable/);
  });
});
