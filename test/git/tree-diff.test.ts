import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { diffTrees, listTree, type TreeEntry } from '../../src/git/tree-diff.js';

/** Content-addressed in-memory trees, like Git's: equal content gives equal ids. */
function memoryStore() {
  const trees = new Map<string, TreeEntry[]>();
  const reads: string[] = [];
  const id = (s: string) => createHash('sha1').update(s).digest('hex');
  const build = (files: Record<string, string>): string => {
    const dirs = new Map<string, Record<string, string>>();
    const entries: TreeEntry[] = [];
    for (const [path, content] of Object.entries(files)) {
      const slash = path.indexOf('/');
      if (slash === -1) entries.push({ path, mode: '100644', type: 'blob', oid: id(`blob:${content}`) });
      else {
        const d = path.slice(0, slash);
        dirs.set(d, { ...dirs.get(d), [path.slice(slash + 1)]: content });
      }
    }
    for (const [d, sub] of dirs) entries.push({ path: d, mode: '040000', type: 'tree', oid: build(sub) });
    entries.sort((a, b) => (a.path < b.path ? -1 : 1));
    const oid = id(`tree:${JSON.stringify(entries)}`);
    trees.set(oid, entries);
    return oid;
  };
  const read = async (oid: string) => {
    reads.push(oid);
    return trees.get(oid)!;
  };
  return { build, read, reads };
}

const all = () => true;
const pathArb = fc.constantFrom('a.yaml', 'b.yml', 'x/c.yaml', 'x/d.json', 'x/y/e.yaml', 'z/f.yaml', 'z/q/g.yaml');
const filesArb = fc.dictionary(pathArb, fc.constantFrom('1', '2', '3'));

describe('diffTrees', () => {
  it('equals the difference of the two full listings', async () => {
    await fc.assert(
      fc.asyncProperty(filesArb, filesArb, async (before, after) => {
        const s = memoryStore();
        const changes = await diffTrees(s.read, s.build(before), s.build(after), all);
        const expected = [...new Set([...Object.keys(before), ...Object.keys(after)])]
          .sort()
          .flatMap((p) => {
            if (!(p in after)) return [{ path: p, change: 'removed' }];
            if (!(p in before)) return [{ path: p, change: 'added' }];
            return before[p] === after[p] ? [] : [{ path: p, change: 'modified' }];
          });
        expect(changes.map(({ path, change }) => ({ path, change }))).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('reads only the trees on the path of a change', async () => {
    const s = memoryStore();
    const files: Record<string, string> = {};
    for (let d = 0; d < 20; d++) for (let f = 0; f < 20; f++) files[`d${d}/f${f}.yaml`] = `${d}-${f}`;
    const a = s.build(files);
    const b = s.build({ ...files, 'd7/f3.yaml': 'changed' });
    s.reads.length = 0;
    expect(await diffTrees(s.read, a, b, all)).toMatchObject([{ path: 'd7/f3.yaml', change: 'modified' }]);
    expect(s.reads).toHaveLength(4); // two roots, two d7 trees
  });

  it('treats a file replaced by a directory as a removal plus additions, and filters paths', async () => {
    const s = memoryStore();
    const a = s.build({ 'p.yaml': '1', 'keep.txt': 'x' });
    const b = s.build({ 'p.yaml/inner.yaml': '2', 'keep.txt': 'y' });
    const changes = await diffTrees(s.read, a, b, (p) => p.endsWith('.yaml'));
    expect(changes.map(({ path, change }) => `${change} ${path}`)).toEqual(['added p.yaml/inner.yaml', 'removed p.yaml']);
    expect((await listTree(s.read, b, all)).map((f) => f.path)).toEqual(['keep.txt', 'p.yaml/inner.yaml']);
  });
});
