import * as fs from 'node:fs';
import git from 'isomorphic-git';
import { GitSourceError } from './errors.js';

/**
 * Git's revision syntax, as far as a policy reader needs it: a branch, remote branch, tag
 * (annotated ones peeled to their commit), `HEAD`/`@`, a full or abbreviated commit id, each
 * followed by any number of `~N` (N-th first-parent ancestor) and `^N` (N-th parent) steps,
 * e.g. `main~3`, `v1.2^`, `HEAD^2~1`, `1a2b3c4`. isomorphic-git resolves refs but not the steps.
 */
export async function resolveRevision(gitdir: string, revision: string): Promise<string> {
  const m = /^([^~^]+)((?:[~^]\d*)*)$/.exec(revision.trim());
  if (!m) throw notFound(gitdir, revision, 'not a revision this reader understands (NAME, NAME~N, NAME^N)');
  let oid = await resolveBase(gitdir, m[1] === '@' ? 'HEAD' : m[1]!, revision);
  for (const [, op, digits] of m[2]!.matchAll(/([~^])(\d*)/g)) {
    const n = digits === '' ? 1 : Number(digits);
    if (op === '~') {
      for (let i = 0; i < n; i++) oid = await parentOf(gitdir, oid, 0, revision);
    } else if (n > 0) oid = await parentOf(gitdir, oid, n - 1, revision);
  }
  return oid;
}

async function resolveBase(gitdir: string, name: string, revision: string): Promise<string> {
  let oid: string | null = await git.resolveRef({ fs, gitdir, ref: name }).catch(() => null);
  if (oid === null && /^[0-9a-f]{4,40}$/i.test(name)) oid = await git.expandOid({ fs, gitdir, oid: name.toLowerCase() }).catch(() => null);
  if (oid === null) throw notFound(gitdir, revision, `${name} is not a branch, tag or commit (fetch it first, e.g. git fetch origin main)`);
  // Tags may point at tag objects (annotated), possibly in a chain; a revision means their commit.
  for (let i = 0; i < 10; i++) {
    const { type, object } = await git.readObject({ fs, gitdir, oid, format: 'parsed' });
    if (type === 'commit') return oid;
    if (type !== 'tag') break;
    oid = (object as { object: string }).object;
  }
  throw notFound(gitdir, revision, `${name} does not name a commit`);
}

async function parentOf(gitdir: string, oid: string, index: number, revision: string): Promise<string> {
  const { commit } = await git.readCommit({ fs, gitdir, oid });
  const parent = commit.parent[index];
  if (!parent) throw notFound(gitdir, revision, `commit ${oid.slice(0, 10)} has no ${index === 0 ? 'parent' : `parent #${index + 1}`}`);
  return parent;
}

const notFound = (gitdir: string, revision: string, why: string) => new GitSourceError('GIT_REVISION_NOT_FOUND', `${revision}: ${why} (repository ${gitdir})`);
