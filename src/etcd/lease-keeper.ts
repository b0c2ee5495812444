import { Worker } from 'node:worker_threads';

export type ToKeeper =
  | { type: 'grant'; ttlS: number }
  | { type: 'hold'; createRevision: string; ttlS: number }
  | { type: 'release' }
  | { type: 'close' };
export type FromKeeper =
  | { type: 'granted'; id: string }
  | { type: 'grant-failed'; message: string }
  | { type: 'lost'; why: string }
  | { type: 'released' };

/**
 * A leader lease on a worker thread. On one thread, keep-alives are timers queued behind
 * whatever the reconciler is doing: with 50–200 hosts on 2 cores the 3 s lease was lost several
 * times a minute (engineering notes §9). The worker has its own event loop and etcd
 * connection, so neither the keep-alive nor the leader-key check waits for the reconciler.
 */
export class LeaseKeeper {
  private readonly worker: Worker;
  private waiting: ((m: FromKeeper) => void) | null = null;
  private onLost: ((why: string) => void) | null = null;
  private gone: string | null = null;

  constructor(endpoints: readonly string[]) {
    this.worker = new Worker(workerSource(), { eval: true, workerData: { endpoints: [...endpoints] } });
    this.worker.unref();
    this.worker.on('message', (m: FromKeeper) => {
      if (m.type === 'lost') this.onLost?.(m.why);
      else this.waiting?.(m);
    });
    const died = (why: string) => {
      this.gone ??= why;
      this.onLost?.(`the lease keeper stopped (${why})`);
      this.waiting?.({ type: 'grant-failed', message: `the lease keeper stopped (${why})` });
    };
    this.worker.on('error', (e) => died(e.message));
    this.worker.on('exit', (code) => died(`exit ${code}`));
  }

  private ask(m: ToKeeper): Promise<FromKeeper> {
    if (this.gone) return Promise.resolve({ type: 'grant-failed', message: `the lease keeper stopped (${this.gone})` });
    return new Promise((resolve) => {
      this.waiting = (answer) => {
        this.waiting = null;
        resolve(answer);
      };
      this.worker.postMessage(m);
    });
  }

  /** A new lease (any previous one is revoked first); its id. */
  async grant(ttlS: number): Promise<string> {
    const m = await this.ask({ type: 'grant', ttlS });
    if (m.type !== 'granted') throw new Error(m.type === 'grant-failed' ? m.message : `unexpected answer ${m.type}`);
    return m.id;
  }

  /** Keeps the lease and watches the leader key created at `createRevision`; `onLost` once it is gone. */
  hold(createRevision: string, ttlS: number, onLost: (why: string) => void): void {
    this.onLost = onLost;
    this.worker.postMessage({ type: 'hold', createRevision, ttlS } satisfies ToKeeper);
  }

  /** Stops watching and revokes the lease. */
  async release(): Promise<void> {
    this.onLost = null;
    await this.ask({ type: 'release' });
  }

  async close(): Promise<void> {
    this.onLost = null;
    if (this.gone) return;
    const exited = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage({ type: 'close' } satisfies ToKeeper);
    const timer = setTimeout(() => void this.worker.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}

/** Run from sources (tsx: tests, `npm start`) the worker needs the TypeScript loader registered in its own thread. */
function workerSource(): string {
  const here = import.meta.url;
  const fromSource = here.endsWith('.ts');
  const entry = JSON.stringify(new URL(`./lease-worker.${fromSource ? 'ts' : 'js'}`, here).href);
  return fromSource ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${entry}); })` : `import(${entry})`;
}
