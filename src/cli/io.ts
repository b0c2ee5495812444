/** What a subcommand may touch; `process` satisfies it, tests pass buffers. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Ends `--follow`. */
  signal?: AbortSignal;
}

/** Exit codes shared by the subcommands. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;
