import { coldProber, type Prober } from './node-probe.js';
import { notReached, reached, type ProbeOrigin, type ProbeResult } from './probe-result.js';

/** One GET without keep-alive; the body is drained, not read. */
const BODY = `
const [host, port, path] = args;
const req = ctx.own(require('node:http').get({ host, port: Number(port), path, agent: false, headers: { 'user-agent': 'palisade-check' } }, (res) => {
  res.resume();
  done({ ok: true, status: res.statusCode });
}));
req.on('error', (e) => done({ ok: false, error: e.code || e.message }));
`;

/** An HTTP GET of `path` answers with `status`. */
export async function probeHttp(target: string, port: number, path: string, status: number, timeoutMs: number, origin: ProbeOrigin, prober: Prober = coldProber): Promise<ProbeResult> {
  const r = await prober.runNode(BODY, [target, String(port), path], origin, timeoutMs);
  if (!r.ok) return notReached(r.ms, r.error);
  return r['status'] === status ? reached(r.ms) : notReached(r.ms, `answered ${String(r['status'])}, expected ${status}`);
}
