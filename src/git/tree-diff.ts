/** One entry of a Git tree, as isomorphic-git's `readTree` returns it. */
export interface TreeEntry {
  mode: string;
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

export type ReadTree = (oid: string) => Promise<readonly TreeEntry[]>;

export interface TreeChange {
  /** Relative to the trees compared. */
  path: string;
  change: 'added' | 'removed' | 'modified';
  /** Blob of the new side (added/modified) or the old side (removed). */
  oid: string;
  /** That side is a symbolic link (its blob is the link's target text), not a file. */
  symlink?: true;
}

const SYMLINK = '120000';
const isBlob = (e: TreeEntry) => e.type === 'blob';
const isLink = (e: TreeEntry) => e.mode === SYMLINK;

/**
 * Compares two trees by reading only subtrees whose object ids differ, so the cost follows
 * what changed, not the size of the repository (isomorphic-git's `walk` reads every
 * first-level subtree even when pruning). Siblings are read concurrently. `null` is the empty tree.
 * Results come in path order.
 */
export async function diffTrees(read: ReadTree, from: string | null, to: string | null, include: (path: string, symlink: boolean) => boolean, prefix = ''): Promise<TreeChange[]> {
  if (from === to) return [];
  const [a, b] = await Promise.all([from ? read(from) : [], to ? read(to) : []]);
  const before = new Map(a.map((e) => [e.path, e]));
  const after = new Map(b.map((e) => [e.path, e]));
  const names = [...new Set([...before.keys(), ...after.keys()])].sort();
  const parts = await Promise.all(
    names.map(async (name): Promise<TreeChange[]> => {
      const x = before.get(name);
      const y = after.get(name);
      if (x && y && x.oid === y.oid && x.type === y.type && x.mode === y.mode) return [];
      const path = prefix + name;
      const xTree = x?.type === 'tree' ? x.oid : null;
      const yTree = y?.type === 'tree' ? y.oid : null;
      const out: TreeChange[] = xTree || yTree ? await diffTrees(read, xTree, yTree, include, `${path}/`) : [];
      // A file replaced by a symlink is a modification to a symlink, never a removal.
      const xFile = x && isBlob(x) && include(path, isLink(x)) ? x : undefined;
      const yFile = y && isBlob(y) && include(path, isLink(y)) ? y : undefined;
      const link = (e: TreeEntry) => (isLink(e) ? { symlink: true as const } : {});
      if (xFile && yFile) out.push({ path, change: 'modified', oid: yFile.oid, ...link(yFile) });
      else if (yFile) out.push({ path, change: 'added', oid: yFile.oid, ...link(yFile) });
      else if (xFile) out.push({ path, change: 'removed', oid: xFile.oid, ...link(xFile) });
      return out;
    }),
  );
  return parts.flat();
}

/** Every file (and symlink) below a tree, in path order. */
export async function listTree(read: ReadTree, tree: string | null, include: (path: string, symlink: boolean) => boolean): Promise<{ path: string; oid: string; symlink?: true }[]> {
  return (await diffTrees(read, null, tree, include)).map(({ path, oid, symlink }) => ({ path, oid, ...(symlink ? { symlink } : {}) }));
}
