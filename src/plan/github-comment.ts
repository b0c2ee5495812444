import { COMMENT_MARKER, GITHUB_COMMENT_LIMIT } from './format-markdown.js';

/**
 * Posts the plan on a pull request as ONE comment: the comment carrying Palisade's marker is
 * updated in place; the first run creates it. Duplicates left by concurrent runs are removed, so
 * a pull request never accumulates stale plans.
 */

export type GithubCommentErrorCode = 'GITHUB_API' | 'GITHUB_CONFIG';

export class GithubCommentError extends Error {
  override readonly name = 'GithubCommentError';
  constructor(
    readonly code: GithubCommentErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface CommentTarget {
  /** `https://api.github.com`, or `GITHUB_API_URL` on GitHub Enterprise. */
  apiUrl: string;
  token: string;
  /** `owner/name`. */
  repository: string;
  /** Pull-request (issue) number. */
  issue: number;
}

export interface CommentResult {
  action: 'created' | 'updated';
  id: number;
  url: string;
  /** Older Palisade comments deleted as duplicates. */
  deleted: number[];
}

/** Enough pages for any pull request; a loop over an API must end. */
const MAX_PAGES = 50;
const PER_PAGE = 100;

interface IssueComment {
  id: number;
  body?: string | null;
  html_url: string;
}

export async function upsertPlanComment(target: CommentTarget, body: string, fetchImpl: typeof fetch = fetch): Promise<CommentResult> {
  if (!/^[^/\s]+\/[^/\s]+$/.test(target.repository)) throw new GithubCommentError('GITHUB_CONFIG', `repository must be owner/name (got ${JSON.stringify(target.repository)})`);
  if (!Number.isInteger(target.issue) || target.issue <= 0) throw new GithubCommentError('GITHUB_CONFIG', `pull request number must be a positive integer (got ${target.issue})`);
  const text = withMarker(body);
  const base = `${target.apiUrl.replace(/\/+$/, '')}/repos/${target.repository}`;
  const call = async <T>(method: string, path: string, payload?: unknown): Promise<T> => {
    const res = await fetchImpl(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${target.token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'palisade-plan',
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
    });
    if (!res.ok) {
      const detail = await res.text().catch(() => '');
      const hint = res.status === 401 || res.status === 403 ? ' (the token needs pull-requests: write; pull requests from forks get a read-only token)' : '';
      throw new GithubCommentError('GITHUB_API', `${method} ${path}: HTTP ${res.status}${hint}${detail ? `: ${detail.slice(0, 300)}` : ''}`, res.status);
    }
    return (res.status === 204 ? undefined : await res.json()) as T;
  };

  const ours: IssueComment[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const batch = await call<IssueComment[]>('GET', `/issues/${target.issue}/comments?per_page=${PER_PAGE}&page=${page}`);
    ours.push(...batch.filter((c) => c.body?.includes(COMMENT_MARKER)));
    if (batch.length < PER_PAGE) break;
  }
  const [keep, ...duplicates] = ours;
  if (!keep) {
    const created = await call<IssueComment>('POST', `/issues/${target.issue}/comments`, { body: text });
    return { action: 'created', id: created.id, url: created.html_url, deleted: [] };
  }
  const updated = await call<IssueComment>('PATCH', `/issues/comments/${keep.id}`, { body: text });
  for (const d of duplicates) await call<void>('DELETE', `/issues/comments/${d.id}`);
  return { action: 'updated', id: updated.id, url: updated.html_url, deleted: duplicates.map((d) => d.id) };
}

/** The marker on top, and never over GitHub's limit whatever the caller passed. */
function withMarker(body: string): string {
  const text = body.includes(COMMENT_MARKER) ? body : `${COMMENT_MARKER}\n${body}`;
  if (text.length <= GITHUB_COMMENT_LIMIT) return text;
  const note = '\n\n…cut to fit GitHub\'s comment limit.\n';
  return text.slice(0, GITHUB_COMMENT_LIMIT - note.length) + note;
}

/** The comment target from a GitHub Actions environment (`pull_request` events). */
export function targetFromEnv(env: NodeJS.ProcessEnv, event: unknown, overrides: Partial<CommentTarget> = {}): CommentTarget {
  const token = overrides.token ?? env.GITHUB_TOKEN;
  if (!token) throw new GithubCommentError('GITHUB_CONFIG', 'GITHUB_TOKEN is not set: pass `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step');
  const repository = overrides.repository ?? env.GITHUB_REPOSITORY;
  if (!repository) throw new GithubCommentError('GITHUB_CONFIG', 'GITHUB_REPOSITORY is not set; pass --repository owner/name');
  const number = overrides.issue ?? (event as { pull_request?: { number?: unknown }; number?: unknown } | undefined)?.pull_request?.number ?? (event as { number?: unknown } | undefined)?.number;
  if (typeof number !== 'number') throw new GithubCommentError('GITHUB_CONFIG', 'no pull request number: run on a pull_request event or pass --pr N');
  return { apiUrl: overrides.apiUrl ?? env.GITHUB_API_URL ?? 'https://api.github.com', token, repository, issue: number };
}
