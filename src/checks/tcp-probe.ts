import { execFile } from 'node:child_process';
import net from 'node:net';

export type ProbeResult = { open: true; ms: number } | { open: false; ms: number; error: string };

/**
 * Runs inside the probing namespace as `node -e`: one connect attempt, bounded by the timeout,
 * result as one JSON line. Kept as a string so no file path has to exist in the namespace.
 */
const PROBE_SOURCE = `
const net = require('node:net');
const [host, port, timeout] = process.argv.slice(1);
const t0 = Date.now();
const done = (r) => { process.stdout.write(JSON.stringify({ ...r, ms: Date.now() - t0 })); process.exit(0); };
const s = net.connect({ host, port: Number(port) });
s.setTimeout(Number(timeout), () => { s.destroy(); done({ open: false, error: 'timed out after ' + timeout + ' ms' }); });
s.on('connect', () => { s.destroy(); done({ open: true }); });
s.on('error', (e) => done({ open: false, error: e.code || e.message }));
`;

/** A TCP connect from this process's own network namespace. */
export function tcpProbeLocal(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (r: ProbeResult) => {
      socket.destroy();
      resolve(r);
    };
    socket.setTimeout(timeoutMs, () => finish({ open: false, ms: Date.now() - t0, error: `timed out after ${timeoutMs} ms` }));
    socket.on('connect', () => finish({ open: true, ms: Date.now() - t0 }));
    socket.on('error', (e: NodeJS.ErrnoException) => finish({ open: false, ms: Date.now() - t0, error: e.code ?? e.message }));
  });
}

/** A TCP connect from inside network namespace `namespace` (a real socket in that namespace). */
export function tcpProbeInNamespace(namespace: string, host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      'ip',
      ['netns', 'exec', namespace, process.execPath, '-e', PROBE_SOURCE, host, String(port), String(timeoutMs)],
      { timeout: timeoutMs + 5000 },
      (error, stdout, stderr) => {
        try {
          resolve(JSON.parse(stdout) as ProbeResult);
        } catch {
          resolve({ open: false, ms: 0, error: `probe in namespace ${namespace} did not run: ${stderr.trim() || error?.message}` });
        }
      },
    );
  });
}
