import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSH_FAILSAFE_CHECK } from '../../src/checks/check-spec.js';
import { closeDialers } from '../../src/checks/probes/dialer.js';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { runRender } from '../../src/cli/render.js';
import { compareStructure, rulesetHash } from '../../src/dataplane/index.js';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { openFileEventStore, type FileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { closeDrivers, driversFromHostsFile } from '../../src/hosts/drivers.js';
import type { HostDriver } from '../../src/hosts/host-driver.js';
import { parseJournalLine, type JournalLine } from '../../src/hosts/ssh/remote-scripts.js';
import { labDown, labPrerequisites, labUp, listLabNamespaces, type LabDescription } from '../../src/lab/lab.js';
import { isRunning, rekeyLabSshd, sshPrerequisites, startLabSshd, stopLabSshd } from '../../src/lab/lab-sshd.js';
import { silentLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { TestRepo } from '../support/repo.js';
import { commitExactly, FIVE_HOSTS, hostEndpoints, NO_FAILSAFES, rolloutYaml, tables, transitionsOf, waitFor, webPolicy } from '../support/rollout-lab.js';

const run = promisify(execFile);
const pre = await labPrerequisites();
const ssh = pre.ok ? await sshPrerequisites() : pre;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Hosts of kind `ssh` against real OpenSSH: one sshd per lab namespace (`labUp(…, {ssh})`), the
 * reconciler's connections through ssh2 from the management namespace, every apply
 * commit-confirmed by the host itself. Short confirm windows keep the self-reverts quick.
 */
const CONFIRM_MS = 4000;
const FAST = 'checkAttempts: 1\nsoakInterval: 300ms\ntimeouts:\n  apply: 10s\n  verify: 8s\n';

/** Drops SSH in the raw table, before conntrack: established sessions (the reconciler's own) die too. */
const CUT_SSH_UNTRACKED = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: cut-ssh
spec:
  order: 1
  selector: all()
  doNotTrack: true
  applyOnForward: true
  ingress:
    - action: Deny
      protocol: TCP
      destination:
        ports: [22]
`;

describe.skipIf(!ssh.ok)('ssh hosts against real OpenSSH (five namespaces, three waves)', () => {
  let work: string;
  let lab: LabDescription | null = null;
  let repo: TestRepo;
  let store: FileEventStore;
  let source: GitSource;
  let reconciler: Reconciler;
  let drivers: Map<string, HostDriver>;
  const children: ChildProcess[] = [];

  const states = (revision: string) => Object.fromEntries(Object.entries(reconciler.state.revisions.get(revision)?.hosts ?? {}).map(([h, p]) => [h, p.state]));
  const transitions = async (revision: string) => transitionsOf(await store.read(), revision);
  const hostOf = (name: string) => lab!.hosts.find((h) => h.name === name)!;
  const journal = async (name: string): Promise<JournalLine[]> =>
    (await readFile(path.join(lab!.ssh!.hosts[name]!.stateDir, 'journal'), 'utf8').catch(() => ''))
      .split('\n')
      .flatMap((l) => parseJournalLine(l) ?? []);
  const sshWorks = async () => Object.fromEntries(await Promise.all([...drivers].map(async ([n, d]) => [n, (await d.check(SSH_FAILSAFE_CHECK)).ok] as const)));

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-ssh-e2e-'));
    repo = await TestRepo.create(path.join(work, 'repo'));
    lab = await labUp(FIVE_HOSTS, { ssh: { dir: path.join(work, 'lab') } });
    drivers = driversFromHostsFile(hostsFileForLab(lab, { confirmMs: CONFIRM_MS }));
    store = await openFileEventStore(path.join(work, 'state', 'events'));
    source = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(work, 'state', 'git-cache') });
    reconciler = new Reconciler({ git: source, store, logger: silentLogger(), stateDir: path.join(work, 'state'), drivers, pollIntervalMs: 200 });
    await reconciler.load();
  }, 60_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    if (drivers) await closeDrivers(drivers);
    await closeDialers();
    await source?.close();
    await store?.close();
    if (lab) {
      await labDown(lab);
      expect(await listLabNamespaces(lab.id)).toEqual([]);
      for (const h of Object.values(lab.ssh?.hosts ?? {})) expect(isRunning(h.pid)).toBe(false);
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('confirms a good commit on five hosts in three waves; each table is what palisade render gives; one connection per host', { timeout: 90_000 }, async () => {
    const files = { 'palisade.yaml': rolloutYaml(`${FAST}soak: 0\n`), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80]) };
    const good = await commitExactly(repo, files, 'good: web on workers');
    // What `palisade render` reads: the same files as a plain directory.
    const policyDir = path.join(work, 'render');
    await mkdir(policyDir, { recursive: true });
    for (const [f, text] of Object.entries(files)) await writeFile(path.join(policyDir, f), text);
    expect(await reconciler.reconcile()).toEqual([{ revision: good, outcome: 'completed', failedHosts: [] }]);
    expect(reconciler.state.revisions.get(good)!.waves!.map((w) => w.hosts)).toEqual([['node-a'], ['node-b', 'node-c'], ['node-d', 'node-e']]);
    expect(states(good)).toEqual(Object.fromEntries(FIVE_HOSTS.map((h) => [h, 'confirmed'])));

    const seen = await transitions(good);
    const current = await tables(drivers);
    for (const host of FIVE_HOSTS) {
      expect(seen.filter((t) => t.host === host).map((t) => t.to)).toEqual(['preflight', 'applying', 'verifying', 'soaking', 'confirmed']);
      // The always-on SSH check was a real handshake against the known-hosts file.
      expect(seen.find((t) => t.host === host && t.to === 'confirmed')!.checks?.find((c) => c.name === 'ssh-from-management')?.detail).toMatch(/\[handshake\]: open/);
      const facts = path.join(work, `${host}.facts.json`);
      await writeFile(facts, JSON.stringify({ node: host, interfaces: await drivers.get(host)!.readInterfaces() }));
      let rendered = '';
      const io = { stdout: { write: (s: string) => ((rendered += s), true) }, stderr: { write: () => true } };
      expect(await runRender(['--host', host, '--repo', policyDir, '--facts', facts], io as never)).toBe(0);
      expect(seen.find((t) => t.host === host && t.to === 'verifying')!.rulesetHash, host).toBe(rulesetHash(rendered));
      expect(compareStructure(rendered, current[host]!), host).toBeNull();
      // Armed, applied and confirmed by the host itself, once.
      expect((await journal(host)).filter((l) => l.hash === rulesetHash(rendered)).map((l) => l.event)).toEqual(['armed', 'applied', 'confirmed']);
      const { stdout } = await run('ip', ['netns', 'exec', hostOf(host).namespace, 'ss', '-Htn', 'state', 'established', '( sport = :22 )'], { timeout: 5000 });
      expect(stdout.trim().split('\n').filter(Boolean), `${host}: SSH connections from the reconciler`).toHaveLength(1);
    }
  });

  it('a commit that cuts SSH: the canary reverts by itself within confirmMs, the rollout halts, the others are untouched, SSH works after', { timeout: 90_000 }, async () => {
    const before = await tables(drivers);
    const bad = await commitExactly(
      repo,
      { 'palisade.yaml': rolloutYaml(FAST), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80]), 'felix.yaml': NO_FAILSAFES, 'cut-ssh.yaml': CUT_SSH_UNTRACKED },
      'bad: untracked deny of ssh, no failsafes',
    );
    expect(await reconciler.reconcile()).toEqual([{ revision: bad, outcome: 'halted', failedHosts: ['node-a'] }]);
    expect(states(bad)).toEqual({ 'node-a': 'rolledBack' });
    const seen = await transitions(bad);
    expect(new Set(seen.map((t) => t.host))).toEqual(new Set(['node-a']));
    const rolledBack = seen.find((t) => t.to === 'rolledBack')!;
    expect(rolledBack.reason).toMatch(/^checks failed after apply: ssh-from-management: .*; the host reverted by itself at \S+ \(not confirmed within 4 s\)$/);

    // The host, not the reconciler, put the table back: armed, applied, reverted by its watchdog
    // when the window closed; the reconciler's rollback then found nothing left to do.
    const lines = (await journal('node-a')).slice(-4);
    expect(lines.map((l) => l.event)).toEqual(['armed', 'applied', 'reverted', 'unchanged']);
    const window = lines[2]!.at - lines[0]!.at;
    expect(window).toBeGreaterThanOrEqual(CONFIRM_MS - 1000);
    expect(window).toBeLessThanOrEqual(CONFIRM_MS + 2000);

    expect(await tables(drivers)).toEqual(before);
    expect(await sshWorks()).toEqual(Object.fromEntries(FIVE_HOSTS.map((h) => [h, true])));
  });

  it('a changed host key and a stopped sshd: both unreachable before any change, nothing applied there, the rollout goes on per its budget', { timeout: 90_000 }, async () => {
    const before = await tables(drivers);
    const journals = { 'node-b': (await journal('node-b')).length, 'node-d': (await journal('node-d')).length };
    await rekeyLabSshd(lab!.ssh!, hostOf('node-b'));
    const stopped = lab!.ssh!.hosts['node-d']!;
    await stopLabSshd(stopped.pid);
    // The reconciler's connections went with the sshd that served them.
    try {
      const next = await commitExactly(
        repo,
        { 'palisade.yaml': rolloutYaml(`${FAST}maxFailures: 1\nsoak: 0\n`), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80, 443]) },
        'web: add 443',
      );
      expect(await reconciler.reconcile()).toEqual([{ revision: next, outcome: 'completed', failedHosts: ['node-b', 'node-d'] }]);
      expect(states(next)).toEqual({ 'node-a': 'confirmed', 'node-b': 'unreachable', 'node-c': 'confirmed', 'node-d': 'unreachable', 'node-e': 'confirmed' });
      const hosts = reconciler.state.revisions.get(next)!.hosts;
      const { stdout: fp } = await run('ssh-keygen', ['-l', '-f', path.join(lab!.ssh!.hosts['node-b']!.dir, 'ssh_host_ed25519_key.pub')], { timeout: 5000 });
      expect(hosts['node-b']!.reason).toMatch(/^baseline checks failed before any change: ssh-from-management: .*HOST KEY CHANGED/);
      expect(hosts['node-b']!.reason).toContain(fp.split(' ')[1]!);
      expect(hosts['node-d']!.reason).toMatch(/^baseline checks failed before any change: ssh-from-management: .*closed \(ECONNREFUSED\)/);
      const seen = await transitions(next);
      for (const h of ['node-b', 'node-d'] as const) {
        expect(seen.filter((t) => t.host === h).map((t) => t.to)).toEqual(['preflight', 'unreachable']);
        expect((await journal(h)).length, `${h}: nothing armed or applied`).toBe(journals[h]);
      }
      // The driver refuses the new key as well, with its fingerprint.
      await expect(drivers.get('node-b')!.current()).rejects.toThrow(new RegExp(`HOST KEY CHANGED: the server offered ssh-ed25519 ${fp.split(' ')[1]!.replace(/[+/]/g, '\\$&')}`));
    } finally {
      stopped.pid = await startLabSshd(hostOf('node-d'), stopped.dir);
    }
    // The operator checks the new key and writes it down: node-b is reachable again.
    const known = await readFile(lab!.ssh!.knownHostsFile, 'utf8');
    const pub = (await readFile(path.join(lab!.ssh!.hosts['node-b']!.dir, 'ssh_host_ed25519_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
    await writeFile(lab!.ssh!.knownHostsFile, known.replace(/^198\.18\.0\.12 .*$/m, `198.18.0.12 ${pub}`));
    const after = await tables(drivers);
    expect({ b: after['node-b'], d: after['node-d'] }).toEqual({ b: before['node-b'], d: before['node-d'] });
  });

  it('the reconciler SIGKILLed inside a confirm window: the host reverts by itself; the restarted reconciler records it and applies nothing twice', { timeout: 120_000 }, async () => {
    // A fresh policy repository and state for a reconciler run as an operator runs it.
    const killRepo = await TestRepo.create(path.join(work, 'kill-repo'));
    const state = path.join(work, 'kill-state');
    const hostsFile = path.join(work, 'kill-hosts.json');
    await writeFile(hostsFile, JSON.stringify(hostsFileForLab(lab!, { confirmMs: 5000 })));
    const revision = await commitExactly(
      killRepo,
      {
        // The verify round takes 3 s (a blackholed port proves closed only by timing out), well
        // inside the 5 s window: the kill lands between the apply and its confirmation.
        'palisade.yaml': rolloutYaml(`${FAST}soak: 0\nchecks:\n  - name: port-9-closed\n    kind: tcp\n    port: 9\n    expect: closed\n    timeout: 3s\n`),
        'hosts.yaml': hostEndpoints(),
        'web.yaml': webPolicy([80, 8080]),
      },
      'web: 80 and 8080',
    );
    const args = ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', '--repo', killRepo.dir, '--state', state, '--hosts', hostsFile, '--poll-interval', '200', '--once'];
    const readLog = async (): Promise<PalisadeEvent[]> => {
      if (!existsSync(path.join(state, 'events'))) return [];
      // The directory appears a moment before the log inside it.
      const reader = await openFileEventStore(path.join(state, 'events'), { readOnly: true }).catch(() => null);
      if (!reader) return [];
      try {
        return await reader.read();
      } finally {
        await reader.close();
      }
    };
    const startReconciler = () => {
      const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      return { child, exit, output: () => out };
    };
    const before = (await journal('node-a')).length;
    const first = startReconciler();
    await waitFor(
      'node-a verifying',
      async () => {
        if (first.child.exitCode !== null) throw new Error(`reconciler exited early:\n${first.output()}`);
        return transitionsOf(await readLog(), revision).find((t) => t.host === 'node-a' && t.to === 'verifying');
      },
      60_000,
    );
    await new Promise((r) => setTimeout(r, 500));
    first.child.kill('SIGKILL');
    expect((await first.exit).signal).toBe('SIGKILL');
    const armed = (await journal('node-a')).slice(before);
    expect(armed.map((l) => l.event)).toEqual(['armed', 'applied']);

    // Nobody confirms: the host reverts by itself when its window closes.
    await waitFor('node-a reverted by itself', async () => ((await journal('node-a')).slice(before).some((l) => l.event === 'reverted') ? true : undefined), 15_000);

    const second = startReconciler();
    const exit = await Promise.race([second.exit, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the restarted reconciler did not exit:\n${second.output()}`)), 60_000))]);
    expect(exit.code, second.output()).toBe(1);
    const events = await readLog();
    expect(events.filter((e) => e.type === 'RolloutFinished')).toMatchObject([{ revision, outcome: 'halted', failedHosts: ['node-a'] }]);
    const seen = transitionsOf(events, revision).filter((t) => t.host === 'node-a');
    // The restart resumed node-a at verifying; it was applied once, by the first process.
    expect(seen.map((t) => `${t.from}->${t.to}`)).toEqual(['queued->preflight', 'preflight->applying', 'applying->verifying', 'queued->verifying', 'verifying->rollingBack', 'rollingBack->verifyingRollback', 'verifyingRollback->rolledBack']);
    expect(events.filter((e) => e.type === 'HostResumed')).toMatchObject([{ host: 'node-a', from: 'verifying', cause: 'restart' }]);
    expect(seen.find((t) => t.to === 'rollingBack')!.reason).toMatch(/commit-confirmed: node-a: confirmed too late: the host reverted by itself at \S+ \(not confirmed within 5 s\)/);
    // Applied once, reverted once by the host, and the rollback found the table already back.
    expect((await journal('node-a')).slice(before).map((l) => l.event)).toEqual(['armed', 'applied', 'reverted', 'unchanged']);
    expect(transitionsOf(events, revision).filter((t) => t.host !== 'node-a')).toEqual([]);
  });
});
