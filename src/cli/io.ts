/** Where a command writes; `process.stdout`/`process.stderr` fit, and so do test buffers. */
export interface CommandIO {
  stdout: { write(chunk: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): unknown };
  /** Ends long-running commands (`--follow`, `--watch`, `wait`). */
  signal?: AbortSignal;
}

/** Exit codes shared by the subcommands. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A usage or input error the CLI prints as one line, without a stack trace (exit code 2 unless given). */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
    /** The command as typed (`rollout status`), when it is more than the top-level name. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * The one line a user sees for an error they can act on — a usage error (with a pointer to the
 * command's --help), or a typed error with a code of our own (not node's ERR_*) — and its exit
 * status. Null for anything else: that is a bug, not a user's mistake.
 */
export function describeError(name: string, e: unknown): { text: string; exitCode: number } | null {
  if (e instanceof UsageError) {
    const command = e.command ?? name;
    return { text: `palisade ${command}: ${e.message} (see 'palisade ${command} --help')`, exitCode: e.exitCode };
  }
  const err = e as Error & { code?: unknown };
  if (e instanceof Error && typeof err.code === 'string' && err.code.length > 0 && !err.code.startsWith('ERR_')) {
    return { text: `palisade ${name}: ${err.message} [${err.code}]`, exitCode: EXIT.failure };
  }
  return null;
}
