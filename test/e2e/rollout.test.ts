import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { openFileEventStore, type FileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { driversFromHostsFile } from '../../src/hosts/drivers.js';
import type { HostDriver } from '../../src/hosts/host-driver.js';
import { labDown, labPrerequisites, labUp, listLabNamespaces, type LabDescription } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { startServer } from '../support/netns.js';
import { TestRepo } from '../support/repo.js';
import {
  commitExactly,
  FIVE_HOSTS,
  hostEndpoints,
  NO_FAILSAFES,
  rolloutYaml,
  sshPolicy,
  tables,
  transitionsOf,
  waitFor,
  webPolicy,
} from '../support/rollout-lab.js';

const run = promisify(execFile);
const pre = await labPrerequisites();

/**
 * The staged rollout against the kernel: five namespaces, three waves from palisade.yaml, real
 * nft tables and real TCP probes from the management namespace. The scenarios run in order on
 * one lab: each starts from the tables the previous one left, which is what "every host ends on
 * its previous ruleset" is measured against.
 */

// Short probes and one attempt per check keep every failing round to about two seconds.
const FAST = 'checkAttempts: 1\nsoakInterval: 300ms\ntimeouts:\n  apply: 10s\n  verify: 5s\n';
const probe = (port: number) => CheckSpec.parse({ name: `tcp-${port}`, kind: 'tcp', port, timeoutMs: 500 });

describe.skipIf(!pre.ok)('staged rollout against the kernel (five namespaces, three waves)', () => {
  let work: string;
  let lab: LabDescription | null = null;
  let repo: TestRepo;
  let store: FileEventStore;
  let source: GitSource;
  let reconciler: Reconciler;
  let drivers: Map<string, HostDriver>;

  const states = (revision: string) => Object.fromEntries(Object.entries(reconciler.state.revisions.get(revision)?.hosts ?? {}).map(([h, p]) => [h, p.state]));
  const reachable = async (port: number) =>
    Object.fromEntries(await Promise.all([...drivers].map(async ([name, d]) => [name, (await d.check(probe(port))).ok] as const)));
  const transitions = async (revision: string) => transitionsOf(await store.read(), revision);
  const namespaceOf = (host: string) => lab!.hosts.find((h) => h.name === host)!.namespace;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-rollout-e2e-'));
    repo = await TestRepo.create(path.join(work, 'repo'));
    lab = await labUp(FIVE_HOSTS);
    drivers = driversFromHostsFile(hostsFileForLab(lab));
    store = await openFileEventStore(path.join(work, 'state', 'events'));
    source = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(work, 'state', 'git-cache') });
    reconciler = new Reconciler({ git: source, store, logger: silentLogger(), stateDir: path.join(work, 'state'), drivers, pollIntervalMs: 200 });
    await reconciler.load();
  });

  afterAll(async () => {
    await source?.close();
    await store?.close();
    if (lab) {
      await labDown(lab);
      expect(await listLabNamespaces(lab.id)).toEqual([]);
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('confirms a good commit on every host, wave after wave', async () => {
    const good = await commitExactly(
      repo,
      { 'palisade.yaml': rolloutYaml(`${FAST}soak: 1s\n`), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80]) },
      'good: web on workers',
    );
    expect(await reconciler.reconcile()).toEqual([{ revision: good, outcome: 'completed', failedHosts: [] }]);

    const progress = reconciler.state.revisions.get(good)!;
    expect(progress.waves).toEqual([
      { name: 'canary', hosts: ['node-a'] },
      { name: 'ring-two', hosts: ['node-b', 'node-c'] },
      { name: 'rest', hosts: ['node-d', 'node-e'] },
    ]);
    expect(states(good)).toEqual(Object.fromEntries(FIVE_HOSTS.map((h) => [h, 'confirmed'])));

    // No host of a wave leaves `queued` before every host of the wave before it is confirmed.
    const seen = await transitions(good);
    for (let w = 1; w < progress.waves!.length; w++) {
      const lastConfirmed = Math.max(...seen.filter((t) => t.wave === w - 1 && t.to === 'confirmed').map((t) => t.seq));
      const firstStarted = Math.min(...seen.filter((t) => t.wave === w && t.from === 'queued').map((t) => t.seq));
      expect(seen.filter((t) => t.wave === w - 1 && t.to === 'confirmed')).toHaveLength(progress.waves![w - 1]!.hosts.length);
      expect(firstStarted).toBeGreaterThan(lastConfirmed);
    }
    // Each host went the whole way once: preflight, apply, verify, soak, confirm.
    for (const host of FIVE_HOSTS) {
      expect(seen.filter((t) => t.host === host).map((t) => t.to)).toEqual(['preflight', 'applying', 'verifying', 'soaking', 'confirmed']);
    }

    const all = (v: boolean) => Object.fromEntries(FIVE_HOSTS.map((h) => [h, v]));
    expect(await reachable(22)).toEqual(all(true));
    expect(await reachable(80)).toEqual(all(true));
    expect(await reachable(8080)).toEqual(all(false));
  });

  it('rolls a commit that closes SSH back on the canary and touches nothing else', async () => {
    const before = await tables(drivers);
    const bad = await commitExactly(
      repo,
      {
        'palisade.yaml': rolloutYaml(FAST),
        'hosts.yaml': hostEndpoints(),
        'web.yaml': webPolicy([80]),
        'felix.yaml': NO_FAILSAFES,
        'deny-ssh.yaml': sshPolicy('deny-ssh', 'Deny', 'all()', 1),
      },
      'bad: deny ssh everywhere, no failsafes',
    );
    expect(await reconciler.reconcile()).toEqual([{ revision: bad, outcome: 'halted', failedHosts: ['node-a'] }]);

    expect(states(bad)).toEqual({ 'node-a': 'rolledBack' });
    expect(reconciler.state.revisions.get(bad)!.hosts['node-a']!.reason).toMatch(/checks failed after apply: ssh-from-management/);
    expect(new Set((await transitions(bad)).map((t) => t.host))).toEqual(new Set(['node-a']));
    expect(await tables(drivers)).toEqual(before);
    expect(Object.values(await reachable(22)).every(Boolean)).toBe(true);
  });

  it('onFailure: rollback undoes the confirmed canary when the second wave fails', async () => {
    const before = await tables(drivers);
    const bad = await commitExactly(
      repo,
      {
        'palisade.yaml': rolloutYaml(`${FAST}onFailure: rollback\n`),
        'hosts.yaml': hostEndpoints(),
        'web.yaml': webPolicy([80]),
        'felix.yaml': NO_FAILSAFES,
        // SSH stays open everywhere but in ring two, so only the second wave breaks.
        'allow-ssh.yaml': sshPolicy('allow-ssh', 'Allow', 'all()', 10),
        'deny-ssh-ring-two.yaml': sshPolicy('deny-ssh-ring-two', 'Deny', "ring == 'two'", 1),
      },
      'bad: deny ssh on ring two',
    );
    const [result] = await reconciler.reconcile();
    expect(result).toMatchObject({ revision: bad, outcome: 'rolledBack' });
    expect(result!.failedHosts).toEqual(['node-a', 'node-b', 'node-c']);

    const hosts = reconciler.state.revisions.get(bad)!.hosts;
    expect(states(bad)).toEqual({ 'node-a': 'rolledBack', 'node-b': 'rolledBack', 'node-c': 'rolledBack' });
    expect(hosts['node-a']!.reason).toMatch(/^undone because a later wave failed/);
    for (const h of ['node-b', 'node-c']) expect(hosts[h]!.reason).toMatch(/^checks failed after apply: ssh-from-management/);

    const seen = await transitions(bad);
    // The canary was confirmed first, and undone only after ring two had settled.
    const canaryConfirmed = seen.find((t) => t.host === 'node-a' && t.to === 'confirmed')!;
    // The undo is a new run of node-a's machine, recorded as such, then queued → rollingBack.
    const canaryUndo = (await store.read()).find((e) => e.type === 'HostResumed' && e.revision === bad && e.host === 'node-a' && e.from === 'confirmed' && e.cause === 'undo')!;
    expect(seen.find((t) => t.host === 'node-a' && t.seq > canaryUndo.seq)).toMatchObject({ from: 'queued', to: 'rollingBack' });
    const ringTwoSettled = Math.max(...seen.filter((t) => t.wave === 1 && t.to === 'rolledBack').map((t) => t.seq));
    expect(canaryConfirmed.seq).toBeLessThan(ringTwoSettled);
    expect(canaryUndo.seq).toBeGreaterThan(ringTwoSettled);
    expect(seen.some((t) => t.host === 'node-d' || t.host === 'node-e')).toBe(false);

    expect(await tables(drivers)).toEqual(before);
    expect(Object.values(await reachable(22)).every(Boolean)).toBe(true);
  });

  it('rolls the canary back when a declared check starts failing during soak', async () => {
    const before = await tables(drivers);
    const exposing = await commitExactly(
      repo,
      {
        // 9090 must stay closed to the management network; the commit opens it by mistake,
        // which shows only once something listens there (started below, mid-soak).
        'palisade.yaml': rolloutYaml(`${FAST}soak: 3s\nchecks:\n  - name: no-exposed-9090\n    kind: tcp\n    port: 9090\n    expect: closed\n    timeout: 500ms\n`),
        'hosts.yaml': hostEndpoints(),
        'web.yaml': webPolicy([80, 9090]),
      },
      'open 9090 too',
    );
    const pass = reconciler.reconcile();
    let listener: { stop(): void } | null = null;
    try {
      await waitFor('node-a soaking', async () => (await transitions(exposing)).find((t) => t.host === 'node-a' && t.to === 'soaking'), 20_000);
      listener = await startServer(namespaceOf('node-a'), '0.0.0.0', [9090]);
      expect(await pass).toEqual([{ revision: exposing, outcome: 'halted', failedHosts: ['node-a'] }]);
    } finally {
      listener?.stop();
      await pass.catch(() => undefined);
    }

    const canary = (await transitions(exposing)).map((t) => `${t.from}->${t.to}`);
    expect(canary).toEqual(['queued->preflight', 'preflight->applying', 'applying->verifying', 'verifying->soaking', 'soaking->rollingBack', 'rollingBack->verifyingRollback', 'verifyingRollback->rolledBack']);
    expect(reconciler.state.revisions.get(exposing)!.hosts['node-a']!.reason).toMatch(/^checks failed during soak: no-exposed-9090: tcp\/9090 .*open, expected closed/);
    expect(await tables(drivers)).toEqual(before);
  });

  it('a newer commit supersedes the rollout mid-wave; in-flight hosts settle, then the newer commit completes', async () => {
    const first = await commitExactly(
      repo,
      { 'palisade.yaml': rolloutYaml(`${FAST}soak: 2s\n`), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80, 443]) },
      'web: add 443',
    );
    const pass = reconciler.reconcile();
    const ringTwoSoaking = async () => {
      const soaking = (await transitions(first)).filter((t) => t.wave === 1 && t.to === 'soaking');
      return soaking.length === 2 ? soaking : undefined;
    };
    const soaking = await waitFor('ring two soaking', ringTwoSoaking, 30_000).catch(async (e: unknown) => {
      await pass.catch(() => undefined);
      throw e;
    });
    const second = await commitExactly(
      repo,
      { 'palisade.yaml': rolloutYaml(`${FAST}soak: 0\n`), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80, 8443]) },
      'web: 8443 instead of 443',
    );
    expect(await pass).toEqual([{ revision: first, outcome: 'superseded', failedHosts: [] }]);

    // Ring two finished its soak (never cut off between apply and confirmation); the rest never started.
    expect(states(first)).toEqual({ 'node-a': 'confirmed', 'node-b': 'confirmed', 'node-c': 'confirmed' });
    const confirmedAt = (await transitions(first)).filter((t) => t.wave === 1 && t.to === 'confirmed');
    for (const c of confirmedAt) expect(c.seq).toBeGreaterThan(soaking.find((s) => s.host === c.host)!.seq);

    expect(await reconciler.reconcile()).toEqual([{ revision: second, outcome: 'completed', failedHosts: [] }]);
    expect(states(second)).toEqual(Object.fromEntries(FIVE_HOSTS.map((h) => [h, 'confirmed'])));
    const hashes = new Set((await transitions(second)).filter((t) => t.to === 'verifying').map((t) => t.rulesetHash));
    expect(hashes.size).toBe(FIVE_HOSTS.length);
    expect(Object.values(await reachable(80)).every(Boolean)).toBe(true);
  });

  it('a host unreachable from the start is marked unreachable, never applied, and with maxFailures: 1 the rollout goes on', async () => {
    const before = await tables(drivers);
    const down = namespaceOf('node-c');
    await run('ip', ['-n', down, 'link', 'set', 'eth0', 'down'], { timeout: 5000 });
    try {
      const next = await commitExactly(
        repo,
        { 'palisade.yaml': rolloutYaml(`${FAST}maxFailures: 1\n`), 'hosts.yaml': hostEndpoints(), 'web.yaml': webPolicy([80]) },
        'web: back to 80 only',
      );
      expect(await reconciler.reconcile()).toEqual([{ revision: next, outcome: 'completed', failedHosts: ['node-c'] }]);

      expect(states(next)).toEqual({ 'node-a': 'confirmed', 'node-b': 'confirmed', 'node-c': 'unreachable', 'node-d': 'confirmed', 'node-e': 'confirmed' });
      const c = reconciler.state.revisions.get(next)!.hosts['node-c']!;
      expect(c.reason).toMatch(/^baseline checks failed before any change: ssh-from-management/);
      expect((await transitions(next)).filter((t) => t.host === 'node-c').map((t) => t.to)).toEqual(['preflight', 'unreachable']);
      expect((await tables(drivers))['node-c']).toEqual(before['node-c']);
    } finally {
      await run('ip', ['-n', down, 'link', 'set', 'eth0', 'up'], { timeout: 5000 });
    }
  });
});
