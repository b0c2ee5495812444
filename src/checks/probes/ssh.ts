import { coldProber, type Prober } from './node-probe.js';
import { notReached, reached, type ProbeOrigin, type ProbeResult } from './probe-result.js';

/** RFC 4253 §4.2: the identification line is at most 255 bytes including CR LF. */
const MAX_BANNER_BYTES = 255;

/**
 * Connects and reads the first line. Servers may send other lines before the identification
 * string (RFC 4253 §4.2), but sshd does not, and a check wants to know sshd is really there.
 */
const BODY = `
const [host, port, max] = args;
const s = ctx.own(require('node:net').connect({ host, port: Number(port) }));
let got = Buffer.alloc(0);
s.on('connect', () => { ctx.timeoutError = 'connected, but no SSH banner within ' + timeout + ' ms'; });
const line = () => got.toString('latin1').split('\\n')[0].replace(/\\r$/, '');
s.on('data', (d) => {
  got = Buffer.concat([got, d]);
  if (got.includes(10) || got.length >= Number(max)) done({ ok: true, line: line() });
});
s.on('end', () => done({ ok: true, line: line() }));
s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
`;

export const isSshBanner = (line: string): boolean => line.startsWith('SSH-');

/** The server's SSH identification line arrives within the timeout. */
export async function probeSsh(target: string, port: number, timeoutMs: number, origin: ProbeOrigin, prober: Prober = coldProber): Promise<ProbeResult> {
  const r = await prober.runNode(BODY, [target, String(port), String(MAX_BANNER_BYTES)], origin, timeoutMs);
  if (!r.ok) return notReached(r.ms, r.error);
  const line = typeof r['line'] === 'string' ? r['line'] : '';
  return isSshBanner(line) ? reached(r.ms) : notReached(r.ms, `connected but no SSH banner (first line ${JSON.stringify(line.slice(0, 60))})`);
}

/** What the known-hosts file says a target's key must be: `judge` returns why an offered key is refused. */
export interface HostKeyCheck {
  /** Host key algorithms to ask for (those of the known keys), or null for the client's defaults. */
  algorithms: string[] | null;
  judge(offered: Buffer): string | null;
}

/**
 * A real SSH handshake: key exchange completes and the server proves it holds a key the
 * known-hosts file lists (ssh2 verifies the exchange signature before 'handshake'). No login is
 * attempted. Runs in this process over a connection opened from `origin`, bounded by `timeoutMs`.
 */
export async function probeSshHandshake(target: string, port: number, timeoutMs: number, origin: ProbeOrigin, hostKeys: HostKeyCheck): Promise<ProbeResult> {
  const t0 = Date.now();
  const { dial } = await import('./dialer.js');
  const { Client } = await import('ssh2');
  let sock: Awaited<ReturnType<typeof dial>>;
  try {
    sock = await dial(origin, target, port, timeoutMs);
  } catch (e) {
    if ((e as { code?: string }).code?.startsWith('PROBE_')) throw e;
    return notReached(Date.now() - t0, (e as { code?: string }).code ?? (e as Error).message);
  }
  return new Promise<ProbeResult>((resolve) => {
    const client = new Client();
    let refused: string | null = null;
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      client.removeAllListeners('handshake');
      client.on('error', () => undefined);
      client.end();
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(notReached(Date.now() - t0, `no SSH handshake within ${timeoutMs} ms`)), Math.max(1, timeoutMs - (Date.now() - t0)));
    client.once('handshake', () => done(reached(Date.now() - t0)));
    client.once('error', (e) => done(notReached(Date.now() - t0, refused ?? `SSH handshake failed: ${e.message}`)));
    client.connect({
      sock,
      username: 'palisade-check',
      readyTimeout: timeoutMs,
      ...(hostKeys.algorithms ? { algorithms: { serverHostKey: hostKeys.algorithms as never } } : {}),
      hostVerifier: (offered: Buffer) => {
        refused = hostKeys.judge(offered);
        return refused === null;
      },
    });
  });
}
