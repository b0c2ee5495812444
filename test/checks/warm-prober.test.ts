import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { judge } from '../../src/checks/run-checks.js';
import type { Prober } from '../../src/checks/probes/node-probe.js';
import { probe } from '../../src/checks/probes/probe.js';
import { WarmProbers } from '../../src/checks/probes/warm-prober.js';
import type { CheckOutcome } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import type { HostDriver, HostInterface, Ruleset } from '../../src/hosts/host-driver.js';
import { silentLogger } from '../../src/log/logger.js';
import { BeforeSnapshots } from '../../src/rollout/before-snapshots.js';
import { RolloutConfig } from '../../src/rollout/rollout-config.js';
import { startRollout } from '../../src/rollout/run-rollout.js';
import { isRoot, sh, uniqueName } from '../support/netns.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let server: net.Server;
let port: number;
let closedPort: number;
beforeAll(async () => {
  // Probes hang up as soon as they have what they came for: resets are expected.
  server = net.createServer((s) => s.on('error', () => undefined).end('SSH-2.0-palisade-test\r\n'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as net.AddressInfo).port;
  const gone = net.createServer();
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  closedPort = (gone.address() as net.AddressInfo).port;
  await new Promise<void>((r) => gone.close(() => r()));
});
afterAll(() => {
  server.close();
});

const tcp = (p: number) => CheckSpec.parse({ name: `tcp-${p}`, kind: 'tcp', port: p, timeoutMs: 1000 });
const ssh = (p: number) => CheckSpec.parse({ name: `ssh-${p}`, kind: 'ssh', port: p, timeoutMs: 1000 });

describe('warm prober', () => {
  it('answers many probes, concurrently and in turn, from one process per origin, as the one-shot probe does', async () => {
    const probers = new WarmProbers();
    try {
      const first = await Promise.all([probe(tcp(port), '127.0.0.1', {}, probers), probe(ssh(port), '127.0.0.1', {}, probers), probe(tcp(closedPort), '127.0.0.1', {}, probers)]);
      expect(first.map((r) => r.open)).toEqual([true, true, false]);
      expect(first[2]!.error).toBe('ECONNREFUSED');
      const pids = probers.pids();
      expect(pids).toHaveLength(1);
      for (let i = 0; i < 20; i++) expect((await probe(tcp(port), '127.0.0.1', {}, probers)).open).toBe(true);
      expect(probers.pids()).toEqual(pids);
      // Same verdict as a process per probe.
      expect(await probe(tcp(closedPort), '127.0.0.1', {})).toMatchObject({ open: false, error: 'ECONNREFUSED' });
    } finally {
      await probers.close();
    }
  });

  it('its helper starts bare: no NODE_OPTIONS, no NODE_EXTRA_CA_CERTS (a CA bundle parsed at every start), the rest of the environment kept', async () => {
    const saved = { ...process.env };
    process.env.NODE_OPTIONS = '--max-old-space-size=300';
    process.env.NODE_EXTRA_CA_CERTS = '/etc/ssl/certs/ca-certificates.crt';
    process.env.PALISADE_PROBE_ENV_MARK = 'kept';
    const probers = new WarmProbers();
    try {
      expect((await probe(tcp(port), '127.0.0.1', {}, probers)).open).toBe(true);
      const [pid] = probers.pids();
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      expect(env.filter((v) => /^NODE_(OPTIONS|EXTRA_CA_CERTS)=/.test(v))).toEqual([]);
      expect(env).toContain('PALISADE_PROBE_ENV_MARK=kept');
    } finally {
      process.env = saved;
      await probers.close();
    }
  });

  it('a probe that blocks its helper is killed at its deadline; the helper is replaced and the next probe answers', async () => {
    const probers = new WarmProbers();
    try {
      await probers.runNode('done({ ok: true })', [], {}, 1000);
      const [stuck] = probers.pids();
      const t0 = Date.now();
      await expect(probers.runNode('for (;;) {}', [], {}, 200)).rejects.toMatchObject({ code: 'PROBE_KILLED' });
      // Its own timeout plus the answer grace: bounded, however the probe misbehaves.
      expect(Date.now() - t0).toBeLessThan(10_000);
      await expect.poll(() => alive(stuck!), { timeout: 5000 }).toBe(false);
      expect((await probe(tcp(port), '127.0.0.1', {}, probers)).open).toBe(true);
      expect(probers.pids()).not.toContain(stuck);
    } finally {
      await probers.close();
    }
  });

  it('close() ends every helper, even with probes in flight, and returns only once they exited', async () => {
    const probers = new WarmProbers();
    await probers.runNode('done({ ok: true })', [], {}, 1000);
    const pids = probers.pids();
    const inFlight = probers.runNode('setTimeout(() => done({ ok: true }), 60000)', [], {}, 60_000);
    const settled = expect(inFlight).rejects.toMatchObject({ code: 'PROBE_KILLED' });
    await probers.close();
    await settled;
    await expect(inFlight).rejects.toMatchObject({ code: 'PROBE_KILLED' });
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(probers.pids()).toEqual([]);
  });

  it.skipIf(!isRoot)('a missing namespace is inconclusive, as with a process per probe', async () => {
    const probers = new WarmProbers();
    try {
      const r = await probe(tcp(22), '198.18.0.1', { namespace: uniqueName('pnone') }, probers);
      expect(r).toMatchObject({ open: false, inconclusive: 'PROBE_NAMESPACE_UNAVAILABLE' });
    } finally {
      await probers.close();
    }
  });

  it.skipIf(!isRoot)('probes from inside a namespace through one helper there', async () => {
    const namespace = uniqueName('pwarm');
    await sh('ip', ['netns', 'add', namespace]);
    const probers = new WarmProbers();
    try {
      await sh('ip', ['-n', namespace, 'link', 'set', 'lo', 'up']);
      // Nothing listens inside the namespace: refused there, though the port is open out here.
      expect(await probe(tcp(port), '127.0.0.1', { namespace }, probers)).toMatchObject({ open: false, error: 'ECONNREFUSED' });
      expect(probers.pids()).toHaveLength(1);
    } finally {
      await probers.close();
      await sh('ip', ['netns', 'del', namespace]);
    }
  });
});

/** A host whose checks are real probes to the loopback server, through the rollout's prober. */
class ProbingHost implements HostDriver {
  readonly simulated = false;
  readonly address = '127.0.0.1';
  readonly seen = new Set<number>();
  private table: string | null = null;
  constructor(readonly name: string) {}
  async readInterfaces(): Promise<HostInterface[]> {
    return [];
  }
  async current() {
    return this.table;
  }
  async apply(ruleset: Ruleset) {
    this.table = ruleset.text;
  }
  async restore(snapshot: string | null) {
    this.table = snapshot;
  }
  async check(check: CheckSpec, prober?: Prober): Promise<CheckOutcome> {
    const outcome = judge(check, await probe(check, '127.0.0.1', {}, prober), `to ${this.name}`);
    if (prober instanceof WarmProbers) for (const pid of prober.pids()) this.seen.add(pid);
    return outcome;
  }
}

describe('the rollout and its warm prober', () => {
  it('checks go through one warm helper, which is gone when the rollout is done', async () => {
    const dir = await tmp('palisade-warm-rollout-');
    const store = await openFileEventStore(path.join(dir, 'events'));
    const hosts = ['a', 'b', 'c'].map((n) => new ProbingHost(n));
    try {
      const config = RolloutConfig.parse({ soak: 0, soakInterval: 10, checkAttempts: 1, concurrency: 4 });
      const handle = startRollout('r1', [{ name: 'canary', hosts: ['a'] }, { name: 'rest', hosts: ['b', 'c'] }], config, [0, 0], {
        store,
        logger: silentLogger(),
        drivers: new Map(hosts.map((h) => [h.name, h])),
        snapshots: new BeforeSnapshots(path.join(dir, 'before')),
        rulesetFor: () => ({ hash: 'h', text: 'new', program: null }),
        checksFor: () => [ssh(port)],
        reachabilityChecks: new Set([`ssh-${port}`]),
      });
      const t0 = Date.now();
      const output = await handle.done;
      expect(output).toMatchObject({ outcome: 'completed', failedHosts: [] });
      const pids = new Set(hosts.flatMap((h) => [...h.seen]));
      expect(pids.size).toBe(1);
      // Nothing left behind once `done` resolves, and it resolved in bounded time.
      for (const pid of pids) expect(alive(pid)).toBe(false);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      await store.close();
    }
  });
});
