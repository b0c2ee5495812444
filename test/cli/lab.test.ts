import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runLab } from '../../src/cli/lab.js';
import { readHostsFile } from '../../src/hosts/hosts-file.js';
import { LabDescription, labDown, labPrerequisites, listLabNamespaces } from '../../src/lab/lab.js';
import { isRunning, sshPrerequisites } from '../../src/lab/lab-sshd.js';
import { sh } from '../support/netns.js';

const pre = await labPrerequisites();
const ssh = pre.ok ? await sshPrerequisites() : pre;
const io = () => {
  const out = { text: '' };
  return { out, io: { stdout: { write: (s: string) => (out.text += s) }, stderr: { write: (s: string) => (out.text += s) } } };
};

describe.skipIf(!pre.ok)('palisade lab up|down', () => {
  let state = '';
  let lab: LabDescription | null = null;
  afterAll(async () => {
    if (lab) await labDown(lab);
    if (state) await rm(state, { recursive: true, force: true });
  });

  it('builds the lab, writes a hosts file reconcile can read, and tears everything down', async () => {
    state = await mkdtemp(path.join(os.tmpdir(), 'palisade-lab-cli-'));
    const up = io();
    expect(await runLab(['up', '--state', state, '--hosts', 'h1,h2'], up.io)).toBe(0);
    lab = LabDescription.parse(JSON.parse(await readFile(path.join(state, 'lab.json'), 'utf8')));
    expect(up.out.text).toMatch(new RegExp(`lab ${lab.id} is up: h1=198\\.18\\.0\\.11 h2=198\\.18\\.0\\.12`));
    const hosts = await readHostsFile(path.join(state, 'hosts.json'));
    expect(hosts.hosts.map((h) => [h.kind, h.name])).toEqual([['netns', 'h1'], ['netns', 'h2']]);
    expect(hosts.management.namespace).toBe(lab.management.namespace);
    expect((await listLabNamespaces(lab.id)).sort()).toEqual([lab.bridgeNamespace, lab.management.namespace, ...lab.hosts.map((h) => h.namespace)].sort());

    expect(await runLab(['down', '--state', state], io().io)).toBe(0);
    expect(await listLabNamespaces(lab.id)).toEqual([]);
  });

  it('refuses bad host names and a missing lab description', async () => {
    const bad = io();
    expect(await runLab(['up', '--state', state, '--hosts', 'Bad_Name'], bad.io).catch((e: Error) => e.message)).toMatch(/host name 'Bad_Name'/);
    const empty = await mkdtemp(path.join(os.tmpdir(), 'palisade-lab-cli-'));
    await expect(runLab(['down', '--state', empty], io().io)).rejects.toThrow(/no lab description/);
    await rm(empty, { recursive: true, force: true });
  });

  it.skipIf(!ssh.ok)('--ssh: a real sshd per host on its own address only, hosts of kind ssh with a known-hosts file; down kills every sshd', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-lab-ssh-'));
    try {
      expect(await runLab(['up', '--state', dir, '--hosts', 'h1,h2', '--ssh'], io().io)).toBe(0);
      lab = LabDescription.parse(JSON.parse(await readFile(path.join(dir, 'lab.json'), 'utf8')));
      const hosts = await readHostsFile(path.join(dir, 'hosts.json'));
      expect(hosts.hosts.map((h) => [h.kind, h.name, h.address])).toEqual([['ssh', 'h1', '198.18.0.11'], ['ssh', 'h2', '198.18.0.12']]);
      const known = await readFile(lab.ssh!.knownHostsFile, 'utf8');
      expect(known.split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['198.18.0.11 ssh-ed25519', '198.18.0.12 ssh-ed25519']);
      for (const h of lab.hosts) {
        expect(isRunning(lab.ssh!.hosts[h.name]!.pid)).toBe(true);
        const listening = await sh('ip', ['netns', 'exec', h.namespace, 'ss', '-Htln', '( sport = :22 )']);
        expect(listening.trim().split(/\s+/)[3]).toBe(`${h.address}:22`);
      }
      const pids = Object.values(lab.ssh!.hosts).map((h) => h.pid);
      expect(await runLab(['down', '--state', dir], io().io)).toBe(0);
      for (const pid of pids) expect(isRunning(pid)).toBe(false);
      lab = null;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/**
 * `lab down --all` and `--id` find labs by their namespace names alone. They run in a private
 * mount namespace with its own /run/netns, so the labs of other runs on this machine stay unseen.
 */
describe.skipIf(!pre.ok)('palisade lab down --all | --id: labs whose state directory is gone', () => {
  it('removes every lab namespace (and only those), by name prefix', async () => {
    const { execFile } = await import('node:child_process');
    const script = [
      'set -e',
      'mkdir -p /run/netns && mount -t tmpfs tmpfs /run/netns',
      'for n in pal-0a0b0c-br pal-0a0b0c-node-a pal-1d2e3f-mgmt keep-me; do ip netns add $n; done',
      `"${process.execPath}" --import tsx src/cli/main.ts lab down --id 1d2e3f`,
      'echo "after-id: $(ip netns list | cut -d" " -f1 | sort | tr "\\n" " ")"',
      `"${process.execPath}" --import tsx src/cli/main.ts lab down --all`,
      'echo "after-all: $(ip netns list | cut -d" " -f1 | sort | tr "\\n" " ")"',
      `"${process.execPath}" --import tsx src/cli/main.ts lab down --id 1d2e3f || echo "missing: $?"`,
      'ip netns del keep-me',
    ].join('\n');
    const out = await new Promise<string>((resolve, reject) =>
      execFile('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script], { cwd: path.resolve(import.meta.dirname, '../..'), timeout: 60_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stdout}\n${stderr}`)) : resolve(stdout + stderr))),
    );
    expect(out).toContain('lab 1d2e3f is down (1 namespaces)');
    expect(out).toContain('after-id: keep-me pal-0a0b0c-br pal-0a0b0c-node-a ');
    expect(out).toContain('lab 0a0b0c is down (2 namespaces)');
    expect(out).toContain('after-all: keep-me ');
    expect(out).toContain('no namespace of lab 1d2e3f on this machine');
    expect(out).toContain('missing: 1');
  }, 90_000);
});
