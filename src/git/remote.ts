import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import git, { type GitAuth, type GitProgressEvent } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { redactUrl, resolveCredentials } from './credentials.js';
import { GitSourceError } from './errors.js';
import { RepoReader } from './repo-reader.js';
import type { GitSourceOptions, TipSource } from './source.js';

/** isomorphic-git never repacks and looks objects up pack by pack; git's own gc.autoPackLimit is 50. */
const REPACK_ABOVE = 20;
const DEEPEN_BY = 100;

/**
 * A bare, single-branch mirror of a remote under the cache directory. Polling asks the server
 * for the one tracked ref (protocol v2, `prefix`) and fetches only when it moved; fetches never
 * pass an absolute depth, which would re-download the whole tree (engineering notes §1).
 */
export async function openRemoteMirror(opts: GitSourceOptions): Promise<TipSource> {
  const url = redactUrl(opts.repo);
  const credentials = resolveCredentials(opts.repo, opts);
  const gitdir = join(opts.cacheDir, mirrorName(url, opts.branch));
  const reader = new RepoReader(gitdir, url);
  const ref = `refs/heads/${opts.branch}`;
  const tracking = `refs/remotes/origin/${opts.branch}`;
  const log = opts.logger?.child({ component: 'git', repo: url });
  const showProgress = opts.progress ?? process.stdout.isTTY === true;

  const auth = {
    onAuth: credentials ? (): GitAuth => ({ ...credentials }) : undefined,
    // Without this isomorphic-git asks again with the same refused credentials.
    onAuthFailure: (): GitAuth => ({ cancel: true }),
  };

  const remote = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      throw remoteFailure(e, url, what);
    }
  };

  async function cloneOnce(): Promise<void> {
    if (fs.existsSync(join(gitdir, 'HEAD'))) return;
    await mkdir(opts.cacheDir, { recursive: true });
    const tmp = `${gitdir}.cloning-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    log?.info('cloning remote repository (first start)');
    const onProgress = showProgress ? progressPrinter(url) : undefined;
    await remote('clone', () =>
      git.clone({ fs, http, dir: tmp, gitdir: tmp, url, ref: opts.branch, singleBranch: true, depth: 1, noCheckout: true, noTags: true, onProgress, ...auth }),
    ).catch(async (e: unknown) => {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    });
    if (onProgress) process.stderr.write('\n');
    // Rename last, so a clone interrupted by a crash never looks like a mirror.
    await rename(tmp, gitdir);
  }

  async function fetchTip(): Promise<string | null> {
    const result = await remote('fetch', () => git.fetch({ fs, http, gitdir, url, ref: opts.branch, singleBranch: true, tags: false, ...auth }));
    reader.resetCache();
    await repackIfNeeded();
    return result.fetchHead;
  }

  async function repackIfNeeded(): Promise<void> {
    const packs = (await readdir(join(gitdir, 'objects', 'pack')).catch(() => [])).filter((n) => n.endsWith('.pack'));
    if (packs.length <= REPACK_ABOVE) return;
    await new Promise<void>((resolve) =>
      execFile('git', ['-C', gitdir, 'repack', '-adq'], (err) => {
        if (err) log?.warn({ packs: packs.length, err: err.message }, 'git: repack of the mirror failed; lookups slow down as packs pile up');
        resolve();
      }),
    );
    reader.resetCache();
  }

  async function shallowCommits(): Promise<Set<string>> {
    return new Set((await readFile(join(gitdir, 'shallow'), 'utf8').catch(() => '')).split('\n').filter(Boolean));
  }

  return {
    reader,
    description: url,
    async tip() {
      const refs = await remote('list refs', () => git.listServerRefs({ http, url, prefix: ref, protocolVersion: 2, ...auth }));
      const advertised = refs.find((r) => r.ref === ref)?.oid;
      if (!advertised) throw new GitSourceError('GIT_BRANCH_MISSING', `${url}: branch ${opts.branch} does not exist on the server (deleted or never pushed)`);
      await cloneOnce();
      if ((await reader.resolve(tracking)) === advertised) return advertised;
      const fetched = await fetchTip();
      log?.debug({ oid: fetched }, 'git: fetched new commits');
      return fetched ?? advertised;
    },
    async isShallow(oid) {
      return (await shallowCommits()).has(oid);
    },
    async deepen() {
      const before = await shallowCommits();
      if (before.size === 0) return false;
      await remote('deepen', () => git.fetch({ fs, http, gitdir, url, ref: opts.branch, singleBranch: true, tags: false, depth: DEEPEN_BY, relative: true, ...auth }));
      reader.resetCache();
      const after = await shallowCommits();
      return after.size !== before.size || [...after].some((o) => !before.has(o));
    },
    watch: () => () => {},
    close: async () => {},
  };
}

function mirrorName(url: string, branch: string): string {
  const host = new URL(url).host.replace(/[^a-zA-Z0-9.-]/g, '_');
  return `${host}-${createHash('sha256').update(`${url}\n${branch}`).digest('hex').slice(0, 16)}.git`;
}

function progressPrinter(url: string): (p: GitProgressEvent) => void {
  return (p) => {
    const of = p.total ? `${p.loaded}/${p.total}` : `${p.loaded}`;
    process.stderr.write(`\rcloning ${url}: ${p.phase} ${of}\x1b[K`);
  };
}

function remoteFailure(e: unknown, url: string, what: string): GitSourceError {
  if (e instanceof GitSourceError) return e;
  const err = e as { code?: string; message?: string; data?: { statusCode?: number } };
  const status = err.data?.statusCode;
  if (err.code === 'UserCanceledError' || status === 401 || status === 403) {
    return new GitSourceError('GIT_AUTH', `${url}: ${what} refused: authentication failed (HTTP ${status ?? 401}); check the credentials`, { cause: e });
  }
  if (status !== undefined) {
    return new GitSourceError('GIT_UNREACHABLE', `${url}: ${what} failed: server answered HTTP ${status}`, { cause: e });
  }
  if (err.code === 'NotFoundError' || err.code === 'ObjectTypeError' || err.code === 'InternalError') {
    return new GitSourceError('GIT_CORRUPT', `${url}: ${what} failed: ${err.message}`, { cause: e });
  }
  return new GitSourceError('GIT_UNREACHABLE', `${url}: ${what} failed: ${err.code ?? ''} ${err.message ?? String(e)}`.trim(), { cause: e });
}
