import { spawn } from 'node:child_process';

export interface NftResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `nft` with arguments (and optional stdin) somewhere; the one seam between Palisade and a kernel. */
export interface NftRunner {
  readonly where: string;
  run(args: string[], stdin?: string): Promise<NftResult>;
}

const NETNS_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `nft` inside the named network namespace, always: `ip netns exec <ns> nft …`. There is
 * deliberately no runner for the caller's own namespace.
 */
export function netnsNft(namespace: string, opts: { timeoutMs?: number } = {}): NftRunner {
  if (!NETNS_NAME.test(namespace)) throw new Error(`invalid network namespace name ${JSON.stringify(namespace)}`);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return {
    where: `netns ${namespace}`,
    run: (args, stdin) =>
      new Promise((resolve, reject) => {
        const child = spawn('ip', ['netns', 'exec', namespace, 'nft', ...args], { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', reject);
        child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
        child.stdin.on('error', () => undefined);
        child.stdin.end(stdin ?? '');
      }),
  };
}
