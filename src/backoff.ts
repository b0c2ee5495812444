export interface BackoffOptions {
  /** First delay. Default 1 s. */
  initialMs?: number;
  /** Cap on any delay. Default 60 s. */
  maxMs?: number;
  /** Give up after this many attempts (the last error is thrown). Default: never. */
  attempts?: number;
  /** Whether an error is worth retrying. Default: errors with `retryable !== false`. */
  retryable?: (e: unknown) => boolean;
  onRetry?: (e: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
  /** Jitter source in [0, 1); injected by tests. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Delay before retry `attempt` (1-based): doubling from `initialMs`, capped, with ±20 % jitter so a fleet does not retry in step. */
export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.min(maxMs, Math.round(base * (0.8 + 0.4 * random())));
}

/** Runs `task` until it succeeds, waiting with capped exponential backoff between failures. */
export async function withBackoff<T>(task: (attempt: number) => Promise<T>, opts: BackoffOptions = {}): Promise<T> {
  const { initialMs = 1_000, maxMs = 60_000, attempts = Infinity, random = Math.random, sleep = abortableSleep } = opts;
  const retryable = opts.retryable ?? ((e: unknown) => (e as { retryable?: boolean }).retryable !== false);
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (e) {
      if (attempt >= attempts || !retryable(e) || opts.signal?.aborted) throw e;
      const delay = backoffDelay(attempt, initialMs, maxMs, random);
      opts.onRetry?.(e, attempt, delay);
      await sleep(delay, opts.signal);
    }
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}
