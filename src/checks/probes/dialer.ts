import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ProbeError, type ProbeOrigin } from './probe-result.js';
import { probeEnv } from './probe-process.js';

/**
 * TCP connections opened from a network namespace for in-process clients (SSH sessions and
 * handshake probes). Node cannot enter a namespace, so one small relay per namespace runs there
 * (`ip netns exec NS node -e …`): it listens on a Unix socket in a private directory (path
 * sockets cross network namespaces), reads `host port timeoutMs` per connection, connects from
 * inside and then only copies bytes. It exits when this process closes its stdin, so it never
 * outlives its owner; `closeDialers()` kills it by PID.
 */
const RELAY_SOURCE = `
const net = require('node:net');
const [sock] = process.argv.slice(1);
const server = net.createServer((c) => {
  c.on('error', () => {});
  let head = Buffer.alloc(0);
  const onData = (d) => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) { if (head.length > 512) c.destroy(); return; }
    c.off('data', onData);
    c.pause();
    const [host, port, timeout] = head.subarray(0, nl).toString().split(' ');
    const rest = head.subarray(nl + 1);
    const t = net.connect({ host, port: Number(port) });
    const timer = setTimeout(() => { t.destroy(); c.end('-ETIMEDOUT\\n'); }, Number(timeout));
    t.once('error', (e) => { clearTimeout(timer); c.end('-' + (e.code || e.message) + '\\n'); });
    t.once('connect', () => {
      clearTimeout(timer);
      t.setNoDelay(true);
      t.on('error', () => c.destroy());
      c.write('+\\n');
      if (rest.length) t.write(rest);
      c.pipe(t); t.pipe(c);
      c.resume();
      c.on('close', () => t.destroy()); t.on('close', () => c.destroy());
    });
  };
  c.on('data', onData);
});
server.listen(sock, () => process.stdout.write('ready\\n'));
process.stdin.on('end', () => process.exit(0)).on('error', () => process.exit(0)).resume();
`;

interface Relay {
  child: ChildProcess;
  socket: string;
  dir: string;
  ready: Promise<void>;
}

const relays = new Map<string, Relay>();

function relayFor(namespace: string): Relay {
  const known = relays.get(namespace);
  if (known && known.child.exitCode === null && known.child.signalCode === null) return known;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-dial-'));
  const socket = path.join(dir, 'relay.sock');
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', RELAY_SOURCE, socket], { stdio: ['pipe', 'pipe', 'pipe'], env: probeEnv() });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ProbeError('PROBE_KILLED', `the connection relay in ${namespace} did not start within 10 s`)), 10_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new ProbeError('PROBE_TOOL_MISSING', `cannot start the connection relay in ${namespace}: ${e.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      relays.delete(namespace);
      rmSync(dir, { recursive: true, force: true });
      reject(new ProbeError(/network namespace/i.test(stderr) ? 'PROBE_NAMESPACE_UNAVAILABLE' : 'PROBE_BAD_OUTPUT', `the connection relay in ${namespace} exited (${code}): ${stderr.trim() || 'no message'}`));
    });
  });
  ready.catch(() => undefined);
  // The relay must never keep this process alive; it exits by itself once our stdin end closes.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  const relay = { child, socket, dir, ready };
  relays.set(namespace, relay);
  return relay;
}

export class DialError extends Error {
  constructor(
    /** The socket error code (ECONNREFUSED, ETIMEDOUT, EHOSTUNREACH, …). */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DialError';
  }
}

/**
 * A TCP connection to `host:port` opened from `origin` (this process's own network when it has
 * no namespace). Rejects with DialError for network failures and ProbeError when the relay
 * itself could not run.
 */
export async function dial(origin: ProbeOrigin, host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  if (origin.namespace === undefined) return connectDirect(host, port, timeoutMs);
  const relay = relayFor(origin.namespace);
  await relay.ready;
  return new Promise((resolve, reject) => {
    const s = net.connect(relay.socket);
    let head = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new DialError('ETIMEDOUT', `connecting to ${host}:${port} from ${origin.namespace} timed out after ${timeoutMs} ms`)), timeoutMs + 1000);
    const fail = (e: Error) => {
      clearTimeout(timer);
      s.destroy();
      reject(e);
    };
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      s.off('data', onData);
      clearTimeout(timer);
      const status = head.subarray(0, nl).toString();
      if (status !== '+') return fail(new DialError(status.slice(1) || 'EIO', `connecting to ${host}:${port} from ${origin.namespace}: ${status.slice(1)}`));
      s.pause();
      const rest = head.subarray(nl + 1);
      if (rest.length) s.unshift(rest);
      resolve(s);
    };
    s.on('data', onData);
    s.once('error', (e) => fail(new DialError((e as NodeJS.ErrnoException).code ?? 'EIO', `the connection relay in ${origin.namespace}: ${e.message}`)));
    s.once('connect', () => s.write(`${host} ${port} ${timeoutMs}\n`));
  });
}

function connectDirect(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new DialError('ETIMEDOUT', `connecting to ${host}:${port} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new DialError(e.code ?? 'EIO', `connecting to ${host}:${port}: ${e.message}`));
    });
    s.once('connect', () => {
      clearTimeout(timer);
      s.removeAllListeners('error');
      // SSH is many small request/answer packets: Nagle's algorithm would hold each one back.
      s.setNoDelay(true);
      resolve(s);
    });
  });
}

/** Stops every relay this process started (by PID) and removes their sockets. */
export async function closeDialers(): Promise<void> {
  const all = [...relays.values()];
  relays.clear();
  await Promise.all(
    all.map(
      (r) =>
        new Promise<void>((resolve) => {
          if (r.child.exitCode !== null || r.child.signalCode !== null) return resolve();
          r.child.once('exit', () => resolve());
          // Unreferenced while it served; waiting for its exit must keep this process alive.
          r.child.ref();
          r.child.kill('SIGKILL');
        }),
    ),
  );
  for (const r of all) rmSync(r.dir, { recursive: true, force: true });
}
