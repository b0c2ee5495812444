import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { coldProber, parseProbeOutput, PROBE_RUNTIME, STARTUP_GRACE_MS, type NodeProbeOutput, type Prober } from './node-probe.js';
import { ipNetnsFailure, probeEnv } from './probe-process.js';
import { ProbeError, type ProbeOrigin } from './probe-result.js';

/**
 * Once the helper is up, how long past a probe's own timeout it may take to answer before it
 * counts as stuck: its own timer fires at `timeout`, so this only covers a blocked event loop.
 */
const ANSWER_GRACE_MS = 1000;
const MAX_STDERR_BYTES = 16 * 1024;

/** Reads requests (one JSON line each) and runs them concurrently; exits when its stdin closes. */
const HELPER = `${PROBE_RUNTIME}
const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (line) => { let req; try { req = JSON.parse(line); } catch { return; } runProbe(req, (out) => process.stdout.write(out)); });
rl.on('close', () => process.exit(0));
process.stdout.write('{"ready":true}\\n');
`;

interface Pending {
  resolve(out: NodeProbeOutput): void;
  reject(e: ProbeError): void;
  timer: NodeJS.Timeout;
}

/** One long-lived `node` in one origin, spoken to over its stdin/stdout. */
class Helper {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private ready = false;
  private stderr = '';
  readonly exited: Promise<void>;

  constructor(
    readonly origin: ProbeOrigin,
    private readonly onGone: (h: Helper) => void,
  ) {
    const [file, argv] = origin.namespace === undefined ? [process.execPath, ['-e', HELPER]] : ['ip', ['netns', 'exec', origin.namespace, process.execPath, '-e', HELPER]];
    // `ip netns exec` execs node itself: this pid is the helper, and SIGKILL leaves nothing behind.
    this.child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'], env: probeEnv() });
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.child.stderr!.on('data', (d: Buffer) => {
      if (this.stderr.length < MAX_STDERR_BYTES) this.stderr += d.toString('utf8');
    });
    this.child.stdin!.on('error', () => undefined);
    this.child.once('error', (e: NodeJS.ErrnoException) => this.fail(new ProbeError(e.code === 'ENOENT' ? 'PROBE_TOOL_MISSING' : 'PROBE_BAD_OUTPUT', `cannot run ${file}: ${e.message}`)));
    this.child.once('close', (code, signal) => {
      const why = ipNetnsFailure(this.stderr.trim()) ?? new ProbeError('PROBE_KILLED', `the warm prober${where(origin)} exited (${signal ?? `code ${code}`})${this.stderr ? `: ${this.stderr.trim().split('\n')[0]}` : ''}`);
      this.fail(why);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(body: string, args: readonly string[], timeoutMs: number): Promise<NodeProbeOutput> {
    const id = this.nextId++;
    const limit = timeoutMs + (this.ready ? ANSWER_GRACE_MS : STARTUP_GRACE_MS);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A probe past its own deadline means the helper is stuck: kill it; the next probe gets a new one.
        this.fail(new ProbeError('PROBE_KILLED', `the warm prober${where(this.origin)} did not answer within ${limit} ms; killed and replaced`));
      }, limit);
      this.pending.set(id, { resolve, reject, timer });
      this.child.stdin!.write(`${JSON.stringify({ id, body, timeout: timeoutMs, args })}\n`);
    });
  }

  private onLine(line: string): void {
    if (!this.ready && line.includes('"ready"')) {
      this.ready = true;
      return;
    }
    let out: NodeProbeOutput & { id?: number };
    try {
      out = parseProbeOutput(line, '') as NodeProbeOutput & { id?: number };
    } catch (e) {
      return this.fail(e as ProbeError);
    }
    const p = this.pending.get(out.id ?? -1);
    if (!p) return;
    this.pending.delete(out.id!);
    clearTimeout(p.timer);
    delete out.id;
    p.resolve(out);
  }

  /** Fails every probe in flight, kills the process (idempotent) and leaves the pool. */
  fail(e: ProbeError): void {
    this.onGone(this);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

const where = (origin: ProbeOrigin) => (origin.namespace ? ` in ${origin.namespace}` : '');

/**
 * One warm helper process per origin (network namespace), started at its first probe and reused
 * for every probe after, instead of a process per probe. Every probe stays bounded: the helper
 * enforces its timeout, and a helper that does not answer shortly after is killed and replaced.
 * The owner closes the pool when its rollout ends (`close()` returns once every helper has
 * exited); a helper also exits by itself when this process dies, since its stdin closes.
 */
export class WarmProbers implements Prober {
  private readonly helpers = new Map<string, Helper>();
  /** Every helper not yet exited, including replaced ones still dying. */
  private readonly live = new Set<Helper>();
  private closed = false;

  runNode(body: string, args: readonly string[], origin: ProbeOrigin, timeoutMs: number): Promise<NodeProbeOutput> {
    // A straggler after close() still gets a bounded answer, from a process of its own.
    if (this.closed) return coldProber.runNode(body, args, origin, timeoutMs);
    return this.helper(origin).run(body, args, timeoutMs);
  }

  warm(origin: ProbeOrigin): void {
    if (!this.closed) this.helper(origin);
  }

  private helper(origin: ProbeOrigin): Helper {
    const key = origin.namespace ?? '';
    let helper = this.helpers.get(key);
    if (!helper) {
      helper = new Helper(origin, (h) => {
        if (this.helpers.get(key) === h) this.helpers.delete(key);
      });
      this.helpers.set(key, helper);
      const started = helper;
      this.live.add(started);
      void started.exited.then(() => this.live.delete(started));
    }
    return helper;
  }

  /** Process ids of the live helpers (tests: nothing left behind). */
  pids(): number[] {
    return [...this.live].flatMap((h) => (h.pid === undefined ? [] : [h.pid]));
  }

  async close(): Promise<void> {
    this.closed = true;
    const helpers = [...this.live];
    for (const h of helpers) h.fail(new ProbeError('PROBE_KILLED', `the warm prober${where(h.origin)} was closed with the rollout`));
    await Promise.all(helpers.map((h) => h.exited));
  }
}
