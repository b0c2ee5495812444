import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { isGitSourceError } from '../../src/git/errors.js';
import { openGitSource } from '../../src/git/source.js';
import { startGitHttpServer, unusedPort, type GitHttpServer } from '../support/git-http-server.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const servers: GitHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

async function serve(opts: Parameters<typeof startGitHttpServer>[1] = {}) {
  const root = await tmp('palisade-remote-');
  const repo = await TestRepo.create(join(root, 'policy.git'), { bare: true });
  const server = await startGitHttpServer(root, opts);
  servers.push(server);
  return { root, repo, server, url: `${server.url}policy.git` };
}

function memoryLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('remote git source over smart HTTP', () => {
  it('clones once, then fetches only when the advertised ref moved', async () => {
    const { repo, server, url } = await serve();
    const c1 = await repo.commit({ 'policies/a.yaml': 'A1', 'app/x.txt': 'x' }, 'one');
    const cacheDir = join(await tmp(), 'cache');
    const source = await openGitSource({ repo: url, branch: 'main', path: 'policies', cacheDir, progress: false });
    expect(await source.head()).toBe(c1);
    expect((await source.readFiles(c1)).map((f) => [f.path, text(f.content)])).toEqual([['a.yaml', 'A1']]);

    server.requests.length = 0;
    expect(await source.head()).toBe(c1);
    expect(server.requests.filter((r) => r.startsWith('POST') && r.includes('upload-pack'))).toHaveLength(1); // ls-refs only

    const c2 = await repo.commit({ 'policies/a.yaml': 'A2' }, 'two');
    const c3 = await repo.commit({ 'policies/b.yaml': 'B' }, 'three');
    expect(await source.head()).toBe(c3);
    expect((await source.commitsSince(c1)).commits.map((c) => c.message)).toEqual(['two', 'three']);
    expect((await source.diff(c1, c3)).map((f) => [f.change, f.path, text(f.content)])).toEqual([
      ['modified', 'a.yaml', 'A2'],
      ['added', 'b.yaml', 'B'],
    ]);
    expect(c2).toBeTruthy();

    // A restart reuses the mirror.
    const again = await openGitSource({ repo: url, branch: 'main', path: 'policies', cacheDir, progress: false });
    server.requests.length = 0;
    expect(await again.head()).toBe(c3);
    expect(server.requests.some((r) => r.includes('info/refs') && !r.includes('upload-pack'))).toBe(false);
    expect(await readdir(cacheDir)).toHaveLength(1);
  });

  it('finds an old processed commit below the shallow clone boundary by deepening', async () => {
    const { repo, url } = await serve();
    const c1 = await repo.commit({ 'a.yaml': '1' }, 'one');
    await repo.commit({ 'a.yaml': '2' }, 'two');
    const c3 = await repo.commit({ 'a.yaml': '3' }, 'three');
    const source = await openGitSource({ repo: url, branch: 'main', cacheDir: join(await tmp(), 'cache'), progress: false });
    expect(await source.head()).toBe(c3);
    expect(await source.commitsSince(c1)).toMatchObject({ rewritten: false, commits: [{ message: 'two' }, { message: 'three' }] });
  });

  it('detects a force-push on the server', async () => {
    const { repo, url } = await serve();
    const base = await repo.commit({ 'a.yaml': '1' });
    const files = repo.snapshot();
    const lost = await repo.commit({ 'a.yaml': 'lost' });
    const source = await openGitSource({ repo: url, branch: 'main', cacheDir: join(await tmp(), 'cache'), progress: false });
    expect(await source.head()).toBe(lost);
    await repo.resetTo(base, files);
    const tip = await repo.commit({ 'a.yaml': 'new' });
    expect(await source.head()).toBe(tip);
    expect(await source.commitsSince(lost)).toMatchObject({ rewritten: true, commits: [{ oid: tip }] });
  });

  it('uses credentials from the URL without ever logging them, and maps refusals to GIT_AUTH', async () => {
    const { repo, server } = await serve({ auth: { username: 'bot', password: 's3cret-token' } });
    const c1 = await repo.commit({ 'a.yaml': '1' });
    const authed = server.url.replace('http://', 'http://bot:s3cret-token@') + 'policy.git';
    const { logger, lines } = memoryLogger();
    const cacheDir = join(await tmp(), 'cache');
    const source = await openGitSource({ repo: authed, branch: 'main', cacheDir, logger, progress: false });
    expect(await source.head()).toBe(c1);
    expect(source.description).not.toContain('s3cret');
    expect(lines.join('')).not.toContain('s3cret');
    expect(lines.length).toBeGreaterThan(0);

    const wrong = await openGitSource({ repo: `${server.url}policy.git`, branch: 'main', cacheDir, credentials: { username: 'bot', password: 'wrong' }, progress: false });
    const err = await wrong.head().catch((e: unknown) => e);
    expect(isGitSourceError(err, 'GIT_AUTH')).toBe(true);
    expect(String((err as Error).message)).not.toContain('wrong');
    const none = await openGitSource({ repo: `${server.url}policy.git`, branch: 'main', cacheDir, progress: false });
    await expect(none.head()).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_AUTH'));
  });

  it('maps an unreachable server, a missing repository and a deleted branch to typed errors', async () => {
    const { repo, root, url } = await serve();
    await repo.commit({ 'a.yaml': '1' });
    const cacheDir = join(await tmp(), 'cache');
    const port = await unusedPort();
    const down = await openGitSource({ repo: `http://127.0.0.1:${port}/policy.git`, branch: 'main', cacheDir, progress: false });
    await expect(down.head()).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_UNREACHABLE') && e.retryable);

    const source = await openGitSource({ repo: url, branch: 'main', cacheDir, progress: false });
    await source.head();
    await repo.commit({ 'b.yaml': '1' }, 'other', { branch: 'other' });
    await repo.deleteBranch('main');
    await expect(source.head()).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_BRANCH_MISSING'));
    await rm(join(root, 'policy.git'), { recursive: true });
    await expect(source.head()).rejects.toSatisfy((e) => isGitSourceError(e, 'GIT_UNREACHABLE'));
  });
});
