import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { GitSourceError } from './errors.js';
import type { TreeEntry } from './tree-diff.js';

export interface CommitInfo {
  oid: string;
  /** First parent; null for a root commit. */
  parent: string | null;
  /** `Name <email>`. */
  author: string;
  message: string;
  /** Committer time, ISO-8601. */
  committedAt: string;
}

/**
 * Object access for one repository through a single long-lived isomorphic-git cache: without it
 * every call re-reads and re-hashes the packfiles (engineering notes §1).
 */
export class RepoReader {
  private cache: object = {};

  constructor(readonly gitdir: string, private readonly label: string) {}

  /** Drop parsed packs, e.g. after a fetch added new ones. */
  resetCache(): void {
    this.cache = {};
  }

  async readTree(oid: string): Promise<TreeEntry[]> {
    return this.guard(oid, async () => (await git.readTree({ fs, gitdir: this.gitdir, oid, cache: this.cache })).tree);
  }

  async readBlob(oid: string): Promise<Uint8Array> {
    return this.guard(oid, async () => (await git.readBlob({ fs, gitdir: this.gitdir, oid, cache: this.cache })).blob);
  }

  async readCommit(oid: string): Promise<CommitInfo & { tree: string }> {
    return this.guard(oid, async () => {
      const { commit } = await git.readCommit({ fs, gitdir: this.gitdir, oid, cache: this.cache });
      return {
        oid,
        tree: commit.tree,
        parent: commit.parent[0] ?? null,
        author: `${commit.author.name} <${commit.author.email}>`,
        message: commit.message.trimEnd(),
        committedAt: new Date(commit.committer.timestamp * 1000).toISOString(),
      };
    });
  }

  /** Tree id of `subdir` in `commit` (the root tree when empty); null when the commit has no such directory. */
  async subtree(commit: string, subdir: string): Promise<string | null> {
    let tree: string | null = (await this.readCommit(commit)).tree;
    for (const part of subdir ? subdir.split('/') : []) {
      const entry: TreeEntry | undefined = (await this.readTree(tree)).find((e) => e.path === part);
      if (!entry || entry.type !== 'tree') return null;
      tree = entry.oid;
    }
    return tree;
  }

  async resolve(ref: string): Promise<string | null> {
    try {
      return await git.resolveRef({ fs, gitdir: this.gitdir, ref });
    } catch (e) {
      if ((e as { code?: string }).code === 'NotFoundError') {
        this.assertExists(e);
        return null;
      }
      throw this.failure(e, ref);
    }
  }

  async hasBranches(): Promise<boolean> {
    return (await git.listBranches({ fs, gitdir: this.gitdir })).length > 0;
  }

  private async guard<T>(oid: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      throw this.failure(e, oid);
    }
  }

  private failure(e: unknown, what: string): GitSourceError {
    if (e instanceof GitSourceError) return e;
    this.assertExists(e);
    return new GitSourceError('GIT_CORRUPT', `${this.label}: cannot read ${what}: ${(e as Error).message}`, { cause: e });
  }

  private assertExists(cause: unknown): void {
    if (!fs.existsSync(this.gitdir)) {
      throw new GitSourceError('GIT_UNREACHABLE', `${this.label}: repository no longer exists at ${this.gitdir}`, { cause });
    }
  }
}
