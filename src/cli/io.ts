/** Where a command writes; `process.stdout`/`process.stderr` fit, and so do test buffers. */
export interface CommandIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

/** A usage or input error the CLI prints without a stack trace (exit code 2 unless given). */
export class UsageError extends Error {
  readonly code = 'USAGE';
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}
