import { LAB_SERVICES } from '../../src/lab/lab.js';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource } from '../../src/git/source.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { silentLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * The context a compile needs (every endpoint's addresses parsed, selector members) is the same
 * for every host of a revision. Built once per host it made a rollout quadratic in the fleet:
 * 1,000 hosts parsed 1,000 endpoints' addresses 1,000 times.
 */
const built = vi.hoisted(() => ({ contexts: 0 }));
vi.mock('../../src/compiler/context.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/compiler/context.js')>();
  class CountedContext extends original.CompileContext {
    constructor(...args: ConstructorParameters<typeof original.CompileContext>) {
      super(...args);
      built.contexts++;
    }
  }
  return { ...original, CompileContext: CountedContext };
});

const tmp = useTmpDirs();
const HOSTS = Array.from({ length: 12 }, (_, i) => ({ name: `n${i}`, address: `198.18.1.${i + 1}` }));

describe('reconciler: compiling a revision for its hosts', () => {
  it('prepares one compile context per revision, not one per host', async () => {
    const dir = await tmp('palisade-compile-context-');
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    const heps = HOSTS.map(
      (h) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: ${h.name}-eth0, labels: {role: worker}}
spec: {node: ${h.name}, interfaceName: eth0, expectedIPs: ["${h.address}"]}
`,
    ).join('---\n');
    const revision = await repo.commit({ 'palisade.yaml': 'soak: 0\nsoakInterval: 10\ncheckAttempts: 1\n', 'hosts.yaml': heps }, 'workers');
    const store = await openFileEventStore(path.join(dir, 'state', 'events'));
    const git = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(dir, 'state', 'git-cache') });
    try {
      const drivers = new Map(HOSTS.map((h) => [h.name, new SimulatedHost(h.name, h.address, [{ name: 'eth0', addresses: [h.address] }], '198.18.0.1', LAB_SERVICES)]));
      const reconciler = new Reconciler({ git, store, logger: silentLogger(), stateDir: path.join(dir, 'state'), drivers });
      await reconciler.load();
      built.contexts = 0;
      expect(await reconciler.reconcile()).toEqual([{ revision, outcome: 'completed', failedHosts: [] }]);
      expect(built.contexts).toBe(1);
    } finally {
      await git.close();
      await store.close();
    }
  });
});
