import type { Logger } from 'pino';
import { GitSourceError } from './errors.js';
import { findGitdir } from './local.js';
import { RepoReader, type CommitInfo } from './repo-reader.js';
import { diffTrees, listTree } from './tree-diff.js';
import { watchRefs } from './watch.js';

export type { CommitInfo } from './repo-reader.js';

export interface CommitRange {
  /** New commits in first-parent order, oldest first. */
  commits: CommitInfo[];
  /**
   * The commit asked about is no longer an ancestor of the tip (force-push): `commits` is just
   * the tip, to be compared with the last applied state rather than with a vanished commit.
   */
  rewritten: boolean;
}

export interface PolicyFile {
  /** Relative to the tracked sub-directory. */
  path: string;
  content: Uint8Array;
  /** A symbolic link, with its target: passed on so that the model refuses it, naming the path. */
  symlink?: string;
}

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'modified';
  /** New content, for added and modified files. */
  content?: Uint8Array;
  /** The new side is a symbolic link to this target. */
  symlink?: string;
}

export interface GitSource {
  /** Where the policy comes from, safe to log (credentials removed). */
  readonly description: string;
  /** Tip of the tracked branch; null while the repository has no commits at all. */
  head(): Promise<string | null>;
  /** Commits after `oid` up to `tip` (default: the current head). `null`: only the tip, the first revision to apply. */
  commitsSince(oid: string | null, tip?: string): Promise<CommitRange>;
  /** All policy files (`*.yaml`, `*.yml`, `*.json`) of the tracked sub-directory at `oid`, in path order. */
  readFiles(oid: string): Promise<PolicyFile[]>;
  /** Policy files that differ between two commits; cost follows what changed. `from = null`: everything is added. */
  diff(from: string | null, to: string): Promise<FileChange[]>;
  /** Calls `onHint` soon after the branch may have moved. A hint only: keep polling `head()`. Returns a stop function. */
  watch(onHint: () => void): () => void;
  close(): Promise<void>;
}

/** How the tip is found and new objects arrive: a local repository or a mirror of a remote one. */
export interface TipSource {
  readonly reader: RepoReader;
  readonly description: string;
  tip(): Promise<string | null>;
  /** Fetch more history below a shallow boundary; false when there is none to fetch. */
  deepen(): Promise<boolean>;
  isShallow(oid: string): Promise<boolean>;
  watch(onHint: () => void): () => void;
  close(): Promise<void>;
}

export interface GitCredentials {
  username: string;
  password: string;
}

export interface GitSourceOptions {
  /** A local path (working clone or bare) or an http(s) URL. */
  repo: string;
  branch: string;
  /** Sub-directory holding the policy; changes elsewhere are invisible. */
  path?: string;
  /** For remote repositories: where the bare mirror lives (under the state directory). */
  cacheDir: string;
  /** For remote repositories. Default: URL userinfo, then `PALISADE_GIT_USERNAME`/`PALISADE_GIT_PASSWORD` (or `_TOKEN`), then `credentialsFile`. */
  credentials?: GitCredentials;
  /** File with `username:password`, a bare token, or JSON `{ "username", "password" }`. */
  credentialsFile?: string;
  logger?: Logger;
  /** Report clone progress on stderr. Default: when stdout is a terminal. */
  progress?: boolean;
}

const POLICY_FILE = /\.(ya?ml|json)$/i;
/**
 * Policy files and every symlink, skipping hidden entries (`.github/workflows/*.yml` is not
 * policy), as `palisade validate` does. A symlink of any name is kept because it may stand for a
 * policy file or a directory of them; the model refuses it.
 */
const isPolicyFile = (p: string, symlink: boolean) => (symlink || POLICY_FILE.test(p)) && !p.split('/').some((segment) => segment.startsWith('.'));
const decoder = new TextDecoder();

export function normaliseSubdir(path: string | undefined): string {
  return (path ?? '')
    .split('/')
    .filter((p) => p !== '' && p !== '.')
    .join('/');
}

export async function openGitSource(opts: GitSourceOptions): Promise<GitSource> {
  const subdir = normaliseSubdir(opts.path);
  const tips = /^https?:\/\//i.test(opts.repo) ? await (await import('./remote.js')).openRemoteMirror(opts) : localTips(opts);
  return new Source(tips, opts.branch, subdir);
}

function localTips(opts: GitSourceOptions): TipSource {
  const gitdir = findGitdir(opts.repo);
  const reader = new RepoReader(gitdir, opts.repo);
  const ref = `refs/heads/${opts.branch}`;
  return {
    reader,
    description: opts.repo,
    async tip() {
      const oid = await reader.resolve(ref);
      if (oid === null && (await reader.hasBranches())) {
        throw new GitSourceError('GIT_BRANCH_MISSING', `${opts.repo}: branch ${opts.branch} does not exist (deleted or never created)`);
      }
      return oid;
    },
    deepen: async () => false,
    isShallow: async () => false,
    watch: (onHint) => watchRefs(gitdir, onHint, opts.logger),
    close: async () => {},
  };
}

class Source implements GitSource {
  readonly description: string;
  private readonly reader: RepoReader;
  private readonly read = (oid: string) => this.reader.readTree(oid);

  constructor(
    private readonly tips: TipSource,
    branch: string,
    private readonly subdir: string,
  ) {
    this.reader = tips.reader;
    this.description = subdir ? `${tips.description}#${branch}:${subdir}` : `${tips.description}#${branch}`;
  }

  head(): Promise<string | null> {
    return this.tips.tip();
  }

  async commitsSince(oid: string | null, tip?: string): Promise<CommitRange> {
    const to = tip ?? (await this.head());
    if (to === null || to === oid) return { commits: [], rewritten: false };
    const tipInfo = await this.info(to);
    if (oid === null) return { commits: [tipInfo], rewritten: false };
    const found: CommitInfo[] = [];
    for (let c: CommitInfo | null = tipInfo; c !== null; ) {
      if (c.oid === oid) return { commits: found.reverse(), rewritten: false };
      found.push(c);
      if (c.parent === null) break;
      if ((await this.tips.isShallow(c.oid)) && !(await this.tips.deepen())) break;
      c = await this.info(c.parent);
    }
    return { commits: [tipInfo], rewritten: true };
  }

  private async info(oid: string): Promise<CommitInfo> {
    const { tree: _tree, ...info } = await this.reader.readCommit(oid);
    return info;
  }

  async readFiles(oid: string): Promise<PolicyFile[]> {
    const files = await listTree(this.read, await this.reader.subtree(oid, this.subdir), isPolicyFile);
    return mapLimited(files, 16, async ({ path, oid: blob, symlink }) => {
      const content = await this.reader.readBlob(blob);
      return symlink ? { path, content, symlink: decoder.decode(content) } : { path, content };
    });
  }

  async diff(from: string | null, to: string): Promise<FileChange[]> {
    const [a, b] = await Promise.all([from ? this.reader.subtree(from, this.subdir) : null, this.reader.subtree(to, this.subdir)]);
    const changes = await diffTrees(this.read, a, b, isPolicyFile);
    return mapLimited(changes, 16, async ({ path, change, oid, symlink }): Promise<FileChange> => {
      if (change === 'removed') return { path, change };
      const content = await this.reader.readBlob(oid);
      return symlink ? { path, change, content, symlink: decoder.decode(content) } : { path, change, content };
    });
  }

  watch(onHint: () => void): () => void {
    return this.tips.watch(onHint);
  }

  close(): Promise<void> {
    return this.tips.close();
  }
}

/** Like Promise.all over `items`, at most `limit` at a time, results in input order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
