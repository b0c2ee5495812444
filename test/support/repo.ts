import * as fs from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';

type Dir = Map<string, Dir | string>;

const SYMLINK_MARK = '\0symlink:';

/**
 * A real repository built with isomorphic-git, writing objects directly (no worktree), so a
 * test can afford thousands of files. `commit` applies changes on top of the branch tip.
 */
export class TestRepo {
  readonly gitdir: string;
  private files = new Map<string, string>();
  private blobs = new Map<string, string>();
  private time = 1_700_000_000;

  private constructor(readonly dir: string, readonly branch: string, bare: boolean) {
    this.gitdir = bare ? dir : join(dir, '.git');
  }

  /** A file content that `commit` writes as a symbolic link (mode 120000) to `target`. */
  static symlink(target: string): string {
    return SYMLINK_MARK + target;
  }

  static async create(dir: string, opts: { branch?: string; bare?: boolean } = {}): Promise<TestRepo> {
    const repo = new TestRepo(dir, opts.branch ?? 'main', opts.bare ?? false);
    await mkdir(dir, { recursive: true });
    await git.init({ fs, dir, gitdir: repo.gitdir, bare: opts.bare ?? false, defaultBranch: repo.branch });
    return repo;
  }

  async tip(branch = this.branch): Promise<string | null> {
    return git.resolveRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${branch}` }).catch(() => null);
  }

  /** `null` content deletes the file. Returns the new commit id. */
  async commit(changes: Record<string, string | null>, message = 'change', opts: { parents?: string[]; branch?: string } = {}): Promise<string> {
    const branch = opts.branch ?? this.branch;
    for (const [path, content] of Object.entries(changes)) {
      if (content === null) this.files.delete(path);
      else this.files.set(path, content);
    }
    const tree = await this.writeTree(this.toDirs());
    const parents = opts.parents ?? [await this.tip(branch)].filter((p): p is string => p !== null);
    const who = { name: 'Ada Lovelace', email: 'ada@example.org', timestamp: this.time++, timezoneOffset: 0 };
    const oid = await git.writeCommit({ fs, gitdir: this.gitdir, commit: { message: `${message}\n`, tree, parent: parents, author: who, committer: who } });
    await git.writeRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${branch}`, value: oid, force: true });
    return oid;
  }

  /** Moves the branch (a force-push) and resets the file map to that commit's files. */
  async resetTo(oid: string, files: Record<string, string>): Promise<void> {
    this.files = new Map(Object.entries(files));
    await git.writeRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${this.branch}`, value: oid, force: true });
  }

  async deleteBranch(branch = this.branch): Promise<void> {
    await git.deleteRef({ fs, gitdir: this.gitdir, ref: `refs/heads/${branch}` });
  }

  snapshot(): Record<string, string> {
    return Object.fromEntries(this.files);
  }

  private toDirs(): Dir {
    const root: Dir = new Map();
    for (const [path, content] of this.files) {
      const parts = path.split('/');
      let dir = root;
      for (const part of parts.slice(0, -1)) {
        let sub = dir.get(part);
        if (typeof sub !== 'object') dir.set(part, (sub = new Map()));
        dir = sub;
      }
      dir.set(parts[parts.length - 1]!, content);
    }
    return root;
  }

  private async writeTree(dir: Dir): Promise<string> {
    const entries = await Promise.all(
      [...dir].map(async ([path, v]) =>
        typeof v === 'string'
          ? v.startsWith(SYMLINK_MARK)
            ? { path, mode: '120000', type: 'blob' as const, oid: await this.writeBlob(v.slice(SYMLINK_MARK.length)) }
            : { path, mode: '100644', type: 'blob' as const, oid: await this.writeBlob(v) }
          : { path, mode: '040000', type: 'tree' as const, oid: await this.writeTree(v) },
      ),
    );
    return git.writeTree({ fs, gitdir: this.gitdir, tree: entries });
  }

  private async writeBlob(content: string): Promise<string> {
    const known = this.blobs.get(content);
    if (known) return known;
    const oid = await git.writeBlob({ fs, gitdir: this.gitdir, blob: Buffer.from(content) });
    this.blobs.set(content, oid);
    return oid;
  }
}
