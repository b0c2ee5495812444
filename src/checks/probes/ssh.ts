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
