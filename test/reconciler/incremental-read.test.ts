import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { loadPolicyFiles, type FileCache } from '../../src/model/load.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

/** Issue 4: the cost of a commit follows what changed, not the size of the repository. */
const tmp = useTmpDirs();
const set = (name: string, net: string) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: ${name}}\nspec: {nets: ["${net}"]}\n`;
const hep = `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: a-eth0}\nspec: {node: a, interfaceName: eth0, expectedIPs: ["198.18.1.1"]}\n`;

function counting(git: GitSource) {
  const calls = { readFiles: 0, diff: 0 };
  const wrapped: GitSource = {
    ...git,
    description: git.description,
    head: () => git.head(),
    commitsSince: (oid, tip) => git.commitsSince(oid, tip),
    readFiles: (oid) => (calls.readFiles++, git.readFiles(oid)),
    diff: (from, to) => (calls.diff++, git.diff(from, to)),
    watch: (hint) => git.watch(hint),
    close: () => git.close(),
  };
  return { calls, git: wrapped };
}

describe('reading a revision', () => {
  it('parses a file once as long as its buffer is the same (the model keeps per-file results)', () => {
    const cache: FileCache = new WeakMap();
    const file = { path: 'sets.yaml', content: new TextEncoder().encode(set('mgmt', '198.18.0.0/24')) };
    const first = loadPolicyFiles([file], { fileCache: cache });
    const again = loadPolicyFiles([file], { fileCache: cache });
    expect(again.resources[0]!.resource).toBe(first.resources[0]!.resource);
    const renamed = loadPolicyFiles([{ ...file, path: 'other.yaml' }], { fileCache: cache });
    expect(renamed.resources[0]!.source.file).toBe('other.yaml');
    const fresh = loadPolicyFiles([{ ...file, content: new Uint8Array(file.content) }], { fileCache: cache });
    expect(fresh.resources[0]!.resource).not.toBe(first.resources[0]!.resource);
    expect(fresh.resources[0]!.resource).toEqual(first.resources[0]!.resource);
  });

  it('reads the tree once, then applies git diffs, re-parsing only what changed', async () => {
    const dir = await tmp('palisade-incremental-read-');
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    const files: Record<string, string> = { 'palisade.yaml': 'checkAttempts: 1\n', 'hosts.yaml': hep };
    for (let i = 0; i < 20; i++) files[`sets/s${i}.yaml`] = set(`s${i}`, `198.18.${10 + i}.0/24`);
    const first = await repo.commit(files, 'twenty sets');
    const store = await openFileEventStore(path.join(dir, 'state', 'events'));
    const source = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(dir, 'state', 'git-cache') });
    const { calls, git } = counting(source);
    const observed: number[] = [];
    const histogram = { observe: (v: number) => observed.push(v) };
    try {
      const drivers = new Map([['a', new SimulatedHost('a', '198.18.1.1', [{ name: 'eth0', addresses: ['198.18.1.1'] }], '198.18.0.1', LAB_SERVICES)]]);
      const reconciler = new Reconciler({
        git,
        store,
        logger: silentLogger(),
        stateDir: path.join(dir, 'state'),
        drivers,
        metrics: { diffDuration: histogram as never, reconcileDuration: { observe: () => undefined } as never, gitErrors: { inc: () => undefined } as never },
      });
      await reconciler.load();
      await reconciler.reconcile();

      const second = await repo.commit({ 'sets/s7.yaml': set('s7', '198.18.99.0/24'), 'sets/s19.yaml': null }, 'one changed, one removed');
      expect((await reconciler.reconcile()).map((r) => r.revision)).toEqual([second]);
      expect(calls).toEqual({ readFiles: 1, diff: 1 });
      expect(observed).toHaveLength(1);

      const changes = (await store.read()).flatMap((e) => (e.type === 'ResourcesChanged' && e.revision === second ? e.changes : []));
      expect(changes.map((c) => `${c.change} ${c.key}`).sort()).toEqual(['modified GlobalNetworkSet/s7', 'removed GlobalNetworkSet/s19']);
      expect(reconciler.state.revisions.get(first)?.outcome).toBe('completed');
    } finally {
      await source.close();
      await store.close();
    }
  });
});
