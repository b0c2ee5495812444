import { readdir, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isGitSourceError } from '../../src/git/errors.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

async function setup(opts: { path?: string; bare?: boolean } = {}): Promise<{ repo: TestRepo; source: GitSource; dir: string }> {
  const dir = await tmp('palisade-git-');
  const repo = await TestRepo.create(join(dir, 'repo'), { bare: opts.bare });
  const source = await openGitSource({ repo: repo.dir, branch: 'main', path: opts.path, cacheDir: join(dir, 'cache') });
  return { repo, source, dir };
}

describe('local git source', () => {
  it('has no head in an empty repository, then follows the branch tip', async () => {
    const { repo, source } = await setup();
    expect(await source.head()).toBeNull();
    expect(await source.commitsSince(null)).toEqual({ commits: [], rewritten: false });
    const c1 = await repo.commit({ 'a.yaml': 'a: 1' }, 'first');
    expect(await source.head()).toBe(c1);
  });

  it('lists new commits oldest first along the first parent; null means just the tip', async () => {
    const { repo, source } = await setup({ bare: true });
    const c1 = await repo.commit({ 'a.yaml': '1' }, 'one');
    const c2 = await repo.commit({ 'a.yaml': '2' }, 'two');
    const side = await repo.commit({ 'b.yaml': 'side' }, 'side', { branch: 'feature', parents: [c2] });
    const c3 = await repo.commit({ 'b.yaml': null, 'c.yaml': '3' }, 'three');
    const merge = await repo.commit({ 'b.yaml': 'side' }, 'merge feature', { parents: [c3, side] });

    const since1 = await source.commitsSince(c1);
    expect(since1.rewritten).toBe(false);
    expect(since1.commits.map((c) => c.oid)).toEqual([c2, c3, merge]);
    expect(since1.commits[2]).toMatchObject({ parent: c3, author: 'Ada Lovelace <ada@example.org>', message: 'merge feature' });
    expect(since1.commits[0]!.committedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((await source.commitsSince(null)).commits.map((c) => c.oid)).toEqual([merge]);
    expect((await source.commitsSince(merge)).commits).toEqual([]);
    expect((await source.commitsSince(c1, c3)).commits.map((c) => c.oid)).toEqual([c2, c3]);
    // A merge is diffed against its first parent.
    expect((await source.diff(c3, merge)).map((f) => `${f.change} ${f.path}`)).toEqual(['added b.yaml']);
  });

  it('reports a force-push that dropped the processed commit', async () => {
    const { repo, source } = await setup();
    const base = await repo.commit({ 'a.yaml': '1' });
    const before = repo.snapshot();
    const lost = await repo.commit({ 'a.yaml': 'lost' });
    await repo.resetTo(base, before);
    const rewritten = await repo.commit({ 'a.yaml': 'rewritten' });
    expect(await source.commitsSince(lost)).toMatchObject({ rewritten: true, commits: [{ oid: rewritten }] });
    // The vanished commit is still readable here, but callers diff against their own last applied state.
    expect((await source.diff(lost, rewritten)).map((f) => [f.path, text(f.content)])).toEqual([['a.yaml', 'rewritten']]);
  });

  it('reads only policy files under the tracked sub-directory, with relative paths', async () => {
    const { repo, source } = await setup({ path: '/policies/' });
    const c = await repo.commit({
      'README.md': 'x',
      'other/a.yaml': 'outside',
      'policies/a.yaml': 'A',
      'policies/nested/b.yml': 'B',
      'policies/c.json': '{}',
      'policies/notes.txt': 'not policy',
      'policies/.github/workflows/plan.yml': 'hidden: not policy',
      'policies/.hidden.yaml': 'hidden: not policy',
    });
    const files = await source.readFiles(c);
    expect(files.map((f) => [f.path, text(f.content)])).toEqual([
      ['a.yaml', 'A'],
      ['c.json', '{}'],
      ['nested/b.yml', 'B'],
    ]);
  });

  it('diffs only the sub-directory: changes elsewhere produce nothing', async () => {
    const { repo, source } = await setup({ path: 'policies' });
    const c1 = await repo.commit({ 'policies/a.yaml': '1', 'policies/b.yaml': '1', 'app/x.yaml': '1' });
    const c2 = await repo.commit({ 'app/x.yaml': '2', 'README.md': 'docs' });
    expect(await source.diff(c1, c2)).toEqual([]);
    const c3 = await repo.commit({ 'policies/a.yaml': '2', 'policies/b.yaml': null, 'policies/new/c.yaml': '3' });
    const d = await source.diff(c2, c3);
    expect(d.map((f) => [f.change, f.path, text(f.content)])).toEqual([
      ['modified', 'a.yaml', '2'],
      ['removed', 'b.yaml', undefined],
      ['added', 'new/c.yaml', '3'],
    ]);
    expect((await source.diff(null, c3)).map((f) => `${f.change} ${f.path}`)).toEqual(['added a.yaml', 'added new/c.yaml']);
    // The sub-directory disappearing removes every policy file.
    const c4 = await repo.commit({ 'policies/a.yaml': null, 'policies/new/c.yaml': null });
    expect((await source.diff(c3, c4)).map((f) => `${f.change} ${f.path}`)).toEqual(['removed a.yaml', 'removed new/c.yaml']);
    expect(await source.readFiles(c4)).toEqual([]);
  });

  it('handles an enormous commit', async () => {
    const { repo, source } = await setup();
    const c1 = await repo.commit({ 'seed.yaml': 's' });
    const big: Record<string, string> = {};
    for (let i = 0; i < 3_000; i++) big[`d${i % 50}/p${i}.yaml`] = `kind: GlobalNetworkPolicy\nmetadata: {name: p${i}}\n`;
    const c2 = await repo.commit(big, 'enormous');
    const d = await source.diff(c1, c2);
    expect(d).toHaveLength(3_000);
    expect(d.every((f) => f.change === 'added' && text(f.content)!.includes('GlobalNetworkPolicy'))).toBe(true);
    expect(await source.readFiles(c2)).toHaveLength(3_001);
  });

  it('fails with typed errors: deleted branch, vanished repository, missing object, not a repository', async () => {
    const { repo, source, dir } = await setup();
    const c1 = await repo.commit({ 'a.yaml': '1' });
    await repo.commit({ 'x.yaml': '1' }, 'other branch', { branch: 'other', parents: [c1] });
    await repo.deleteBranch('main');
    await expect(source.head()).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_BRANCH_MISSING'));

    const objects = join(repo.gitdir, 'objects', c1.slice(0, 2));
    await unlink(join(objects, c1.slice(2)));
    await expect(source.readFiles(c1)).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_CORRUPT'));

    await rm(repo.dir, { recursive: true });
    await expect(source.head()).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_UNREACHABLE'));
    await expect(openGitSource({ repo: repo.dir, branch: 'main', cacheDir: dir })).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_UNREACHABLE'));
    await expect(openGitSource({ repo: dir, branch: 'main', cacheDir: dir })).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_NOT_A_REPO'));
    expect(await readdir(dir)).not.toContain('cache'); // nothing cloned for a local repository
  });

  it('hints when the branch moves', async () => {
    const { repo, source } = await setup();
    await repo.commit({ 'a.yaml': '1' });
    let hints = 0;
    const stop = source.watch(() => hints++);
    try {
      // The first change after the watcher starts can be missed (engineering notes §6): keep committing, bounded.
      for (let i = 0; i < 40 && hints === 0; i++) {
        await repo.commit({ 'a.yaml': `v${i}` });
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      stop();
    }
    expect(hints).toBeGreaterThan(0);
  });
});
