/** Where a command writes; `process.stdout`/`process.stderr` fit, and so do test buffers. */
export interface CommandIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  /** Ends long-running commands (`--follow`, `--watch`). */
  signal?: AbortSignal;
}

/** Exit codes shared by the subcommands. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A usage or input error the CLI prints without a stack trace (exit code 2 unless given). */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
