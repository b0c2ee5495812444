/** Where a command writes; `process.stdout`/`process.stderr` fit, and so do test buffers. */
export interface CommandIO {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
}

export class UsageError extends Error {
  readonly code = 'USAGE';
}
