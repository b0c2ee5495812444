import { spawn, type ChildProcess } from 'node:child_process';

export interface CapturedProcess {
  proc: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL, and wait until it is gone (no-op once it exited). */
  kill(): Promise<void>;
}

/** A child process whose output a test reads and which it may kill at any moment. */
export function spawnCaptured(command: string, args: readonly string[]): CapturedProcess {
  const proc = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return {
    proc,
    output: () => out,
    kill: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    },
  };
}
