import { runProbeProcess } from './probe-process.js';
import { notReached, ProbeError, reached, type ProbeOrigin, type ProbeResult } from './probe-result.js';

/** Time allowed on top of the echo timeout for `ip netns exec` and ping to start. */
const STARTUP_GRACE_MS = 5000;

export interface PingSummary {
  transmitted: number;
  received: number;
  /** Round trip of the first reply, when ping printed one. */
  rttMs?: number;
}

/**
 * Reads iputils ping's output (`1 packets transmitted, 1 received`, `time=0.14 ms`); undefined
 * when there is no statistics line, i.e. ping never sent anything.
 */
export function parsePingOutput(stdout: string): PingSummary | undefined {
  const stats = /(\d+) packets transmitted, (\d+) received/.exec(stdout);
  if (!stats) return undefined;
  const rtt = /time=([\d.]+) ms/.exec(stdout);
  return { transmitted: Number(stats[1]), received: Number(stats[2]), ...(rtt ? { rttMs: Number(rtt[1]) } : {}) };
}

/**
 * One ICMP echo through iputils `ping` (Debian: iputils-ping): Node has no ICMP sockets, and
 * ping is setuid-free on Linux through ping sockets or CAP_NET_RAW, which root has anyway.
 */
export async function probeIcmp(target: string, timeoutMs: number, origin: ProbeOrigin): Promise<ProbeResult> {
  const t0 = Date.now();
  let output;
  try {
    output = await runProbeProcess(origin, 'ping', ['-c', '1', '-n', '-W', String(Math.max(timeoutMs, 1) / 1000), target], timeoutMs + STARTUP_GRACE_MS);
  } catch (e) {
    if (e instanceof ProbeError && e.code === 'PROBE_TOOL_MISSING') throw new ProbeError(e.code, `ping is not installed (Debian: apt-get install iputils-ping): ${e.message}`);
    throw e;
  }
  const ms = Date.now() - t0;
  const summary = parsePingOutput(output.stdout);
  if (!summary) return notReached(ms, output.stderr.replace(/^ping: /, '') || `ping exited with ${output.code}`);
  if (summary.received > 0) return reached(summary.rttMs ?? ms);
  return notReached(ms, `no echo reply within ${timeoutMs} ms`);
}
