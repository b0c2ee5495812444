import { ProbeError, type ProbeOrigin } from './probe-result.js';
import { runProbeProcess } from './probe-process.js';

/**
 * Socket probes run as `node -e <source>` in the probing namespace: Node cannot enter a network
 * namespace itself, and running the same child for the local vantage keeps one code path. Each
 * kind supplies only a body; this prelude gives it `args`, a hard deadline (whose message the body
 * may sharpen through `timeoutError`) and `done(result)`, which prints one JSON line and exits,
 * so no socket outlives the probe.
 */
const PRELUDE = `
const t0 = Date.now();
const [timeout, ...args] = process.argv.slice(1);
const done = (r) => { process.stdout.write(JSON.stringify({ ...r, ms: Date.now() - t0 }) + '\\n'); process.exit(0); };
let timeoutError = 'timed out after ' + timeout + ' ms';
setTimeout(() => done({ ok: false, error: timeoutError }), Number(timeout));
`;

/** Time allowed on top of the probe's own timeout for `ip netns exec` and Node to start. */
const STARTUP_GRACE_MS = 5000;

export type NodeProbeOutput = { ok: true; ms: number; [key: string]: unknown } | { ok: false; ms: number; error: string };

export async function runNodeProbe(body: string, args: readonly string[], origin: ProbeOrigin, timeoutMs: number): Promise<NodeProbeOutput> {
  const { stdout, stderr } = await runProbeProcess(origin, process.execPath, ['-e', PRELUDE + body, String(timeoutMs), ...args], timeoutMs + STARTUP_GRACE_MS);
  try {
    const parsed = JSON.parse(stdout.trim()) as NodeProbeOutput;
    if (typeof parsed.ok === 'boolean' && typeof parsed.ms === 'number') return parsed;
  } catch {
    // falls through to the error below
  }
  throw new ProbeError('PROBE_BAD_OUTPUT', `probe printed no result${stderr ? `: ${stderr.split('\n')[0]}` : ''}`);
}
