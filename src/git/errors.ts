export type GitSourceErrorCode =
  /** The repository cannot be reached: network error, server down, path gone. Retry with backoff. */
  | 'GIT_UNREACHABLE'
  /** The server refused the credentials (or none were given). Fix the credentials; retrying will not help. */
  | 'GIT_AUTH'
  /** The tracked branch does not exist (never did, or was deleted). */
  | 'GIT_BRANCH_MISSING'
  /** The path is not a Git repository. */
  | 'GIT_NOT_A_REPO'
  /** An object the source needs is missing or unreadable: corrupt or incomplete repository. */
  | 'GIT_CORRUPT'
  /** A revision asked for (`--ref`, `--base`, `--head`) names no commit of the repository. */
  | 'GIT_REVISION_NOT_FOUND';

export class GitSourceError extends Error {
  override readonly name = 'GitSourceError';
  constructor(
    readonly code: GitSourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** Whether waiting and trying again can succeed without an operator's help. */
  get retryable(): boolean {
    return this.code === 'GIT_UNREACHABLE' || this.code === 'GIT_BRANCH_MISSING' || this.code === 'GIT_CORRUPT';
  }
}

export const isGitSourceError = (e: unknown, code?: GitSourceErrorCode): e is GitSourceError =>
  e instanceof GitSourceError && (code === undefined || e.code === code);
