import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRollout } from '../../src/cli/rollout.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { project } from '../../src/state/projections.js';
import { until } from '../support/until.js';

/**
 * `palisade reconcile` as an operator runs it: a separate process, simulated hosts, the HTTP
 * face (health, metrics, rollout control) and `palisade rollout` talking to it.
 */

const author = { name: 'ops', email: 'ops@palisade.invalid' };
const HOSTS = ['node-a', 'node-b', 'node-c'];
const hep = (name: string, i: number) =>
  `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: ${name}-eth0\n  labels:\n    role: worker\nspec:\n  node: ${name}\n  interfaceName: eth0\n  expectedIPs: ["198.18.0.${11 + i}"]\n`;
const DENY_SSH = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny-ssh\nspec:\n  order: 1\n  ingress:\n    - action: Deny\n      protocol: TCP\n      destination:\n        ports: [22]\n`;
const FELIX_NO_FAILSAFE = `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  failsafeInboundHostPorts: []\n`;

let work: string;
let repo: string;
let state: string;
let child: ChildProcess;
let url: string;

const io = () => {
  const out = { text: '' };
  return { out, io: { stdout: { write: (s: string) => (out.text += s) }, stderr: { write: (s: string) => (out.text += s) } } };
};

async function commit(files: Record<string, string>, message: string) {
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(repo, name), content);
  await git.add({ fs, dir: repo, filepath: '.' });
  return git.commit({ fs, dir: repo, message, author });
}


async function revisionState(revision: string) {
  const store = await openFileEventStore(path.join(state, 'events'), { readOnly: true });
  try {
    return project(await store.read()).revisions.get(revision);
  } finally {
    await store.close();
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'palisade-proc-'));
  repo = path.join(work, 'repo');
  state = path.join(work, 'state');
  fs.mkdirSync(repo);
  await git.init({ fs, dir: repo, defaultBranch: 'main' });
  const hostsFile = {
    management: { address: '198.18.0.1' },
    hosts: HOSTS.map((name, i) => ({ kind: 'simulated', name, address: `198.18.0.${11 + i}`, interfaces: [{ name: 'eth0', addresses: [`198.18.0.${11 + i}`] }] })),
  };
  await writeFile(path.join(work, 'hosts.json'), JSON.stringify(hostsFile));
  await commit(
    { 'hosts.yaml': HOSTS.map(hep).join('---\n'), 'palisade.yaml': 'waves:\n  - count: 1\n  - name: rest\nsoak: 3s\nsoakInterval: 500ms\ncheckAttempts: 1\n' },
    'endpoints',
  );
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', '--repo', repo, '--state', state, '--hosts', path.join(work, 'hosts.json'), '--poll-interval', '200', '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.resume();
  child.stderr!.resume();
  url = await until('the HTTP endpoint', async () => (JSON.parse(await readFile(path.join(state, 'http.json'), 'utf8')) as { url: string }).url);
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await rm(work, { recursive: true, force: true });
});

describe('palisade reconcile as a process', () => {
  it('answers health and readiness, and pauses and resumes a rollout on request', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const first = (await git.resolveRef({ fs, dir: repo, ref: 'main' })) as string;
    await until('the canary to soak', async () => ((await revisionState(first))?.hosts['node-a']?.state === 'soaking' ? true : undefined));
    const paused = io();
    expect(await runRollout(['pause', '--state', state], paused.io)).toBe(0);
    expect(paused.out.text).toMatch(/pause of .* accepted/);
    // The canary finishes its soak, but the next wave does not start while paused.
    await until('the canary to be confirmed', async () => ((await revisionState(first))?.hosts['node-a']?.state === 'confirmed' ? true : undefined));
    await new Promise((r) => setTimeout(r, 700));
    expect((await revisionState(first))?.hosts['node-b']).toBeUndefined();
    const shown = io();
    await runRollout(['status', '--state', state], shown.io);
    expect(shown.out.text).toMatch(/paused/);
    expect(shown.out.text).toMatch(/node-a\s+confirmed/);

    expect(await runRollout(['resume', '--state', state], io().io)).toBe(0);
    const done = await until('the rollout to complete', async () => (await revisionState(first))?.outcome ?? undefined);
    expect(done).toBe('completed');
    expect((await revisionState(first))?.hosts['node-c']?.state).toBe('confirmed');

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/palisade_hosts\{state="confirmed"\} 3/);
    expect(metrics).toMatch(/palisade_commits_seen_total 1/);
  });

  it('pins a failed revision as bad until someone asks for a retry', async () => {
    const bad = await commit({ 'deny-ssh.yaml': DENY_SSH, 'felix.yaml': FELIX_NO_FAILSAFE }, 'deny ssh');
    const outcome = await until('the bad rollout to end', async () => (await revisionState(bad))?.outcome ?? undefined);
    expect(outcome).toBe('halted');
    // Pinned: polling again does not touch it.
    await new Promise((r) => setTimeout(r, 600));
    expect((await revisionState(bad))?.attempt).toBe(0);

    const retried = io();
    expect(await runRollout(['retry', '--state', state], retried.io)).toBe(0);
    const again = await until('the retried rollout to end', async () => {
      const r = await revisionState(bad);
      return r?.attempt === 1 && r.outcome ? r : undefined;
    });
    expect(again.outcome).toBe('halted');
    expect(again.hosts['node-a']?.state).toBe('rolledBack');

    const nothing = io();
    expect(await runRollout(['pause', '--state', state], nothing.io)).toBe(1);
    expect(nothing.out.text).toMatch(/no rollout is running/);
  });
});
