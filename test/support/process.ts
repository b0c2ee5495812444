import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface CapturedProcess {
  proc: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL (or `signal`, then SIGKILL after 10 s), and wait until it is gone (no-op once it exited). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * A child process whose output a test reads and which it may kill at any moment. With
 * `outputFile` its stdout and stderr go to that file instead of a pipe: a pipe the parent is too
 * busy to drain blocks a child that logs synchronously, which a benchmark must not measure.
 */
export function spawnCaptured(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env, opts: { outputFile?: string } = {}): CapturedProcess {
  const fd = opts.outputFile ? openSync(opts.outputFile, 'a') : null;
  const proc = spawn(command, [...args], { stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'], env });
  let out = '';
  if (fd !== null) closeSync(fd);
  else {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  }
  return {
    proc,
    output: () => (opts.outputFile ? readFileSync(opts.outputFile, 'utf8') : out),
    kill: async (signal: NodeJS.Signals = 'SIGKILL') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      const late = signal === 'SIGKILL' ? null : setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await gone;
      if (late) clearTimeout(late);
    },
  };
}
