import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import type { EventStore } from '../../src/eventlog/store.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { driversFromHostsFile } from '../../src/hosts/drivers.js';
import type { HostDriver } from '../../src/hosts/host-driver.js';
import { labDown, labPrerequisites, labUp, listLabNamespaces, type LabDescription } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { hostEndpoints, NO_FAILSAFES, sshPolicy, webPolicy } from '../support/rollout-lab.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';

const run = promisify(execFile);
const pre = await labPrerequisites();
const HOSTS = ['node-a', 'node-b', 'node-c'];
const author = { name: 'e2e', email: 'e2e@palisade.invalid' };

/** Good: web traffic allowed on workers; SSH stays open through the failsafe ports; 8080 falls to default deny. */
const GOOD = { 'palisade.yaml': 'checkAttempts: 2\n', 'hosts.yaml': hostEndpoints(HOSTS), 'k8s-worker.yaml': webPolicy([80]) };

/** Bad: no failsafe ports any more, and a first policy that denies SSH. */
const BAD = { 'felix.yaml': NO_FAILSAFES, 'deny-ssh.yaml': sshPolicy('deny-ssh', 'Deny', 'all()', 1) };

const probe = (port: number) => CheckSpec.parse({ name: `tcp-${port}`, kind: 'tcp', port, timeoutMs: 500 });

describe.skipIf(!pre.ok)('walking skeleton against the kernel (network namespaces)', () => {
  let work: string;
  let lab: LabDescription | null = null;
  let store: EventStore;
  let source: GitSource;
  let reconciler: Reconciler;
  let drivers: Map<string, HostDriver>;

  async function commit(files: Record<string, string>, message: string) {
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(work, 'repo', name), content);
    await git.add({ fs, dir: path.join(work, 'repo'), filepath: '.' });
    return git.commit({ fs, dir: path.join(work, 'repo'), message, author });
  }

  const reachable = async (port: number) =>
    Object.fromEntries(await Promise.all([...drivers].map(async ([name, d]) => [name, (await d.check(probe(port))).ok] as const)));

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-e2e-'));
    fs.mkdirSync(path.join(work, 'repo'));
    await git.init({ fs, dir: path.join(work, 'repo'), defaultBranch: 'main' });
    lab = await labUp(HOSTS);
    drivers = driversFromHostsFile(hostsFileForLab(lab));
    store = await openFileEventStore(path.join(work, 'state', 'events'));
    source = await openGitSource({ repo: path.join(work, 'repo'), branch: 'main', cacheDir: path.join(work, 'state', 'git-cache') });
    reconciler = new Reconciler({ git: source, store, logger: silentLogger(), stateDir: path.join(work, 'state'), drivers });
    await reconciler.load();
  });

  afterAll(async () => {
    await source?.close();
    await store?.close();
    if (lab) {
      await labDown(lab);
      expect(await listLabNamespaces(lab.id)).toEqual([]);
    }
    await rm(work, { recursive: true, force: true });
  });

  it('rolls a good commit out to every host, canary first, and the kernel enforces it', async () => {
    const good = await commit(GOOD, 'good: k8s-worker policy');
    const [result] = await reconciler.reconcile();
    expect(result).toMatchObject({ revision: good, outcome: 'completed', failedHosts: [] });

    const progress = reconciler.state.revisions.get(good)!;
    expect(progress.waves?.[0]).toEqual({ name: 'canary', hosts: ['node-a'] });
    expect(Object.fromEntries(Object.entries(progress.hosts).map(([h, p]) => [h, p.state]))).toEqual({ 'node-a': 'confirmed', 'node-b': 'confirmed', 'node-c': 'confirmed' });

    const events = await store.read();
    const confirmedOrder = events.filter((e) => e.type === 'HostTransition' && e.to === 'confirmed').map((e) => (e.type === 'HostTransition' ? e.host : ''));
    expect(confirmedOrder[0]).toBe('node-a');

    expect(await reachable(22)).toEqual({ 'node-a': true, 'node-b': true, 'node-c': true });
    expect(await reachable(80)).toEqual({ 'node-a': true, 'node-b': true, 'node-c': true });
    expect(await reachable(8080)).toEqual({ 'node-a': false, 'node-b': false, 'node-c': false });
  });

  it('rolls a commit that cuts SSH back on the canary, halts, and leaves the other hosts untouched', async () => {
    const before = Object.fromEntries(await Promise.all([...drivers].map(async ([n, d]) => [n, await d.current()] as const)));
    const bad = await commit(BAD, 'bad: deny ssh, no failsafes');
    const [result] = await reconciler.reconcile();
    expect(result).toMatchObject({ revision: bad, outcome: 'halted', failedHosts: ['node-a'] });

    const progress = reconciler.state.revisions.get(bad)!;
    expect(progress.hosts['node-a']?.state).toBe('rolledBack');
    expect(progress.hosts['node-a']?.reason).toMatch(/checks failed after apply: ssh-from-management/);
    expect(progress.hosts['node-b']).toBeUndefined();
    expect(progress.hosts['node-c']).toBeUndefined();

    const after = Object.fromEntries(await Promise.all([...drivers].map(async ([n, d]) => [n, await d.current()] as const)));
    expect(after).toEqual(before);
    expect(await reachable(22)).toEqual({ 'node-a': true, 'node-b': true, 'node-c': true });
  });

  it('notices a hand edit of a host table, records it and puts the confirmed ruleset back', async () => {
    const lab_ = lab!;
    const host = lab_.hosts.find((h) => h.name === 'node-b')!;
    const before = await drivers.get('node-b')!.current();
    const monitor = reconciler.startDriftMonitor(60_000);
    try {
      await run('ip', ['netns', 'exec', host.namespace, 'nft', 'insert', 'rule', 'inet', 'palisade', 'filter-input', 'tcp', 'dport', '8080', 'accept']);
      expect(await reachable(8080)).toMatchObject({ 'node-b': true });
      await monitor.checkNow();
    } finally {
      await monitor.stop();
    }
    await new Promise((r) => setTimeout(r, 100));
    const drift = (await store.read()).filter((e) => e.type === 'DriftDetected');
    expect(drift).toHaveLength(1);
    expect(drift[0]).toMatchObject({ host: 'node-b', restored: true });
    expect(await drivers.get('node-b')!.current()).toEqual(before);
    expect(await reachable(8080)).toMatchObject({ 'node-b': false });
  });

  it('does not re-process finished commits after a restart', async () => {
    const restarted = new Reconciler({ git: source, store, logger: silentLogger(), stateDir: path.join(work, 'state'), drivers });
    const seqBefore = await store.head();
    await restarted.load();
    expect(await restarted.reconcile()).toEqual([]);
    expect(await store.head()).toBe(seqBefore);
  });
});
