import { spawn, type ChildProcess } from 'node:child_process';

export interface CapturedProcess {
  proc: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** SIGKILL (or `signal`, then SIGKILL after 10 s), and wait until it is gone (no-op once it exited). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** A child process whose output a test reads and which it may kill at any moment. */
export function spawnCaptured(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): CapturedProcess {
  const proc = spawn(command, [...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return {
    proc,
    output: () => out,
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
