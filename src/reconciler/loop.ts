import { backoffDelay } from '../backoff.js';
import type { Logger } from '../log/logger.js';
import type { CommitResult } from '../eventlog/events.js';
import type { Reconciler } from './reconciler.js';

export interface LoopOptions {
  pollIntervalMs: number;
  /** Longest pause after repeated failures (capped exponential backoff). */
  maxBackoffMs: number;
  onResults?: (results: CommitResult[]) => void;
}

/**
 * Polls on an interval; `trigger()` (file watcher, webhook) asks for a pass now. A failing
 * pass (repository unreachable, store error) is logged and retried with capped backoff;
 * nothing is half-recorded because every pass starts again from the log.
 */
export function startReconcileLoop(reconciler: Reconciler, logger: Logger, opts: LoopOptions): { trigger(): void; stop(): Promise<void> } {
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let failures = 0;
  let running: Promise<void> = Promise.resolve();

  const schedule = (ms: number) => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(tick, ms);
  };
  const tick = () => {
    timer = null;
    running = reconciler.reconcile().then(
      (results) => {
        failures = 0;
        if (results.length) opts.onResults?.(results);
        schedule(opts.pollIntervalMs);
      },
      (error: unknown) => {
        failures++;
        const delay = backoffDelay(failures + 1, opts.pollIntervalMs, opts.maxBackoffMs, Math.random);
        const e = error as { code?: string; message?: string };
        logger.error({ event: 'ReconcileFailed', code: e.code, failures, retryInMs: delay }, `reconcile failed: ${e.message ?? String(error)}`);
        schedule(delay);
      },
    );
  };
  schedule(0);
  return {
    trigger: () => schedule(0),
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
}
