import { ProbeError, type ProbeOrigin } from './probe-result.js';
import { runProbeProcess } from './probe-process.js';

/**
 * Socket probes run in a Node process in the probing namespace: Node cannot enter a network
 * namespace itself, and running the same code for the local vantage keeps one code path. Each
 * kind supplies only a function body, called as `(args, done, ctx, timeout, require)`: `args` are
 * its strings, `ctx.own(x)` registers a socket or request to destroy once the probe is done,
 * `ctx.timeoutError` sharpens the message of the hard deadline, and `done(result)` reports once.
 * `PROBE_RUNTIME` defines `runProbe(request, write)`, shared by the one-shot process below and
 * by the warm prober (warm-prober.ts), so a probe behaves the same in both.
 */
export const PROBE_RUNTIME = `
const compiled = new Map();
function runProbe(req, write) {
  let fn = compiled.get(req.body);
  if (!fn) { fn = new Function('args', 'done', 'ctx', 'timeout', 'require', req.body); compiled.set(req.body, fn); }
  const t0 = Date.now();
  const owned = [];
  let finished = false;
  const ctx = { timeoutError: 'timed out after ' + req.timeout + ' ms', own: (r) => (owned.push(r), r) };
  const done = (r) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    for (const o of owned) { try { typeof o.destroy === 'function' ? o.destroy() : o.close(); } catch {} }
    write(JSON.stringify({ ...r, id: req.id, ms: Date.now() - t0 }) + '\\n');
  };
  const timer = setTimeout(() => done({ ok: false, error: ctx.timeoutError }), req.timeout);
  try { fn(req.args, done, ctx, req.timeout, require); } catch (e) { done({ ok: false, error: String(e && e.message) }); }
}
`;

/** Time allowed on top of the probe's own timeout for `ip netns exec` and Node to start. */
export const STARTUP_GRACE_MS = 5000;

export type NodeProbeOutput = { ok: true; ms: number; [key: string]: unknown } | { ok: false; ms: number; error: string };

/** Runs socket-probe bodies from an origin: a fresh process each (`coldProber`) or a warm one per origin. */
export interface Prober {
  runNode(body: string, args: readonly string[], origin: ProbeOrigin, timeoutMs: number): Promise<NodeProbeOutput>;
  /** Gets ready to probe from `origin` (a warm prober starts its helper there). */
  warm?(origin: ProbeOrigin): void;
}

/** Parses one result line; throws PROBE_BAD_OUTPUT when it is not one. */
export function parseProbeOutput(line: string, stderr: string): NodeProbeOutput {
  try {
    const parsed = JSON.parse(line.trim()) as NodeProbeOutput;
    if (typeof parsed.ok === 'boolean' && typeof parsed.ms === 'number') return parsed;
  } catch {
    // falls through to the error below
  }
  throw new ProbeError('PROBE_BAD_OUTPUT', `probe printed no result${stderr ? `: ${stderr.split('\n')[0]}` : ''}`);
}

const ONE_SHOT = `${PROBE_RUNTIME}
runProbe(JSON.parse(process.argv[1]), (line) => process.stdout.write(line, () => process.exit(0)));
`;

/** One `node -e` per probe: nothing outlives the probe, at the price of a process start each time. */
export const coldProber: Prober = {
  async runNode(body, args, origin, timeoutMs) {
    const request = JSON.stringify({ id: 0, body, timeout: timeoutMs, args });
    const { stdout, stderr } = await runProbeProcess(origin, process.execPath, ['-e', ONE_SHOT, request], timeoutMs + STARTUP_GRACE_MS);
    return parseProbeOutput(stdout, stderr);
  },
};
