import { execFile, spawn } from 'node:child_process';

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
 * `nft` inside the named network namespace, always: `ip netns exec <ns> nft …`. Tests, the lab
 * and the demo only ever use this runner.
 */
export function netnsNft(namespace: string, opts: { timeoutMs?: number } = {}): NftRunner {
  if (!NETNS_NAME.test(namespace)) throw new Error(`invalid network namespace name ${JSON.stringify(namespace)}`);
  return { where: `netns ${namespace}`, run: (args, stdin) => runCommand('ip', ['netns', 'exec', namespace, 'nft', ...args], stdin, opts.timeoutMs) };
}

export class RootNamespaceRefused extends Error {
  readonly code = 'NFT_ROOT_NAMESPACE_REFUSED';
}

/**
 * The named network namespace (`ip netns add`) this process runs in, or null when it runs in the
 * machine's own network, which is never a named namespace.
 */
async function namedNetworkNamespace(): Promise<string | null> {
  const name = await new Promise<string>((resolve) =>
    execFile('ip', ['netns', 'identify', String(process.pid)], { timeout: 5000 }, (error, stdout) => resolve(error ? '' : stdout.trim())),
  );
  return name || null;
}

/**
 * `nft` in this process's own network namespace: for Palisade running on the host it protects.
 * It refuses to touch the machine's own network unless that was asked for explicitly
 * (`manageThisMachine` in the hosts file), so no test or demo can reach it by accident.
 */
export function localNft(opts: { allowRootNamespace: boolean; timeoutMs?: number }): NftRunner {
  let checked: Promise<void> | null = null;
  const guard = () =>
    (checked ??= namedNetworkNamespace().then((named) => {
      if (named === null && !opts.allowRootNamespace) {
        throw new RootNamespaceRefused("refusing to run nft in this machine's own network namespace: set \"manageThisMachine\": true for the local host in the hosts file if that is what you want");
      }
    }));
  return {
    where: 'this machine',
    run: async (args, stdin) => {
      await guard();
      return runCommand('nft', args, stdin, opts.timeoutMs);
    },
  };
}

function runCommand(command: string, args: string[], stdin: string | undefined, timeoutMs = 30_000): Promise<NftResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: signal ? `${stderr}killed by ${signal}` : stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin ?? '');
  });
}
