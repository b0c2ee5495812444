import { coldProber, type Prober } from './node-probe.js';
import { notReached, reached, type ProbeOrigin, type ProbeResult } from './probe-result.js';

const BODY = `
const [host, port] = args;
const s = ctx.own(require('node:net').connect({ host, port: Number(port) }));
s.on('connect', () => done({ ok: true }));
s.on('error', (e) => done({ ok: false, error: e.code || e.message }));
`;

/** A TCP connect: the three-way handshake completes. */
export async function probeTcp(target: string, port: number, timeoutMs: number, origin: ProbeOrigin, prober: Prober = coldProber): Promise<ProbeResult> {
  const r = await prober.runNode(BODY, [target, String(port)], origin, timeoutMs);
  return r.ok ? reached(r.ms) : notReached(r.ms, r.error);
}
