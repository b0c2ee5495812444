import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { COMMENT_MARKER, GITHUB_COMMENT_LIMIT } from '../../src/plan/format-markdown.js';
import { GithubCommentError, upsertPlanComment } from '../../src/plan/github-comment.js';
import { FakeGithub } from '../support/fake-github.js';
import { useTmpDirs } from '../support/tmp.js';

const servers: FakeGithub[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});
const fake = async () => {
  const s = await new FakeGithub().start();
  servers.push(s);
  return s;
};
const tmp = useTmpDirs();

describe('one plan comment per pull request', () => {
  it('creates the comment, then updates it in place; other comments are left alone', async () => {
    const gh = await fake();
    gh.comments.push({ id: 1, body: 'LGTM', html_url: 'x' });
    const target = { apiUrl: gh.url, token: 'secret-token', repository: 'acme/policies', issue: 7 };
    const first = await upsertPlanComment(target, `${COMMENT_MARKER}\nplan one`);
    expect(first.action).toBe('created');
    const second = await upsertPlanComment(target, `${COMMENT_MARKER}\nplan two`);
    expect(second).toMatchObject({ action: 'updated', id: first.id, deleted: [] });
    expect(gh.comments.map((c) => c.body)).toEqual(['LGTM', `${COMMENT_MARKER}\nplan two`]);
  });

  it('pages through long threads, keeps the first Palisade comment and deletes duplicates', async () => {
    const gh = await fake();
    for (let i = 0; i < 150; i++) gh.comments.push({ id: i + 1, body: i === 120 || i === 140 ? `${COMMENT_MARKER}\nold ${i}` : `chatter ${i}`, html_url: 'x' });
    const result = await upsertPlanComment({ apiUrl: gh.url, token: 'secret-token', repository: 'acme/policies', issue: 7 }, 'new plan');
    expect(result).toMatchObject({ action: 'updated', id: 121, deleted: [141] });
    expect(gh.comments.filter((c) => c.body.includes(COMMENT_MARKER)).map((c) => c.body)).toEqual([`${COMMENT_MARKER}\nnew plan`]);
    expect(gh.requests.filter((r) => r.startsWith('GET'))).toHaveLength(2);
  });

  it('never sends a body over GitHub’s limit', async () => {
    const gh = await fake();
    await upsertPlanComment({ apiUrl: gh.url, token: 'secret-token', repository: 'acme/policies', issue: 7 }, 'x'.repeat(GITHUB_COMMENT_LIMIT + 5000));
    expect(gh.comments[0]!.body.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
  });

  it('a refused token is a typed error that says which permission is needed', async () => {
    const gh = await fake();
    const err = await upsertPlanComment({ apiUrl: gh.url, token: 'wrong', repository: 'acme/policies', issue: 7 }, 'plan').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GithubCommentError);
    expect(err).toMatchObject({ code: 'GITHUB_API', status: 401 });
    expect((err as Error).message).toContain('pull-requests: write');
  });

  it('`palisade plan comment` reads the Actions environment and the event file', async () => {
    const gh = await fake();
    const dir = await tmp();
    await writeFile(join(dir, 'plan.md'), `${COMMENT_MARKER}\n## Palisade plan`);
    await writeFile(join(dir, 'event.json'), JSON.stringify({ pull_request: { number: 7 } }));
    const saved = { ...process.env };
    Object.assign(process.env, { GITHUB_TOKEN: 'secret-token', GITHUB_REPOSITORY: 'acme/policies', GITHUB_API_URL: gh.url, GITHUB_EVENT_PATH: join(dir, 'event.json') });
    try {
      const out = { stdout: '', stderr: '' };
      const io = { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } };
      expect(await main(['plan', 'comment', '--body-file', join(dir, 'plan.md')], io)).toBe(0);
      expect(await main(['plan', 'comment', '--body-file', join(dir, 'plan.md')], io)).toBe(0);
      expect(out.stdout).toMatch(/^created comment 100: .*\nupdated comment 100: /);
      expect(gh.comments).toHaveLength(1);
    } finally {
      for (const k of ['GITHUB_TOKEN', 'GITHUB_REPOSITORY', 'GITHUB_API_URL', 'GITHUB_EVENT_PATH']) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });
});
