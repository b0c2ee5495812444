import type { PalisadeEvent } from '../eventlog/events.js';
import { withBackoff } from '../backoff.js';
import type { Logger } from '../log/logger.js';
import type { NotifyKind } from './kinds.js';
import { emptyFold, step, type Notification } from './notifications.js';
import { loadPosition, positionFile, savePosition, type Position } from './position.js';
import type { Provider } from './providers/provider.js';

/** The part of the event log a notifier reads: the file store has it. */
export interface NotifySource {
  follow(since: number, opts: { signal: AbortSignal }): AsyncIterable<PalisadeEvent>;
  head(): Promise<number>;
}

export interface Channel {
  provider: Provider;
  kinds: ReadonlySet<NotifyKind>;
  /** One delivery attempt's deadline. */
  timeoutMs: number;
}

export interface NotifierOptions {
  source: NotifySource;
  channels: readonly Channel[];
  /** Positions live here, one file per provider (`stateLayout(...).notify`). */
  dir: string;
  logger: Logger;
  /** Values that must never reach a log line (tokens, HMAC secrets, URLs from the environment). */
  secrets: readonly string[];
  retry?: { initialMs?: number; maxMs?: number };
}

export interface Notifier {
  /** Resolves once every provider knows where it starts: events appended after it are sent. */
  readonly ready: Promise<void>;
  /** Resolves once every provider handled the log up to `seq` (or `timeoutMs` passed); false on timeout. */
  drain(seq: number, timeoutMs: number): Promise<boolean>;
  /** Each provider's position (the last event it handled). */
  positions(): Record<string, number>;
  stop(): Promise<void>;
}

/** Skipped events are saved in batches: replaying them after a crash sends nothing. */
const SAVE_EVERY = 256;

/**
 * One loop per provider, each with its own position in the event log, so a provider that is
 * down only falls behind; the rollout never waits for any of them (it only appends to the log).
 * The queue is the log itself: nothing is held in memory beyond one notification per provider.
 */
export function startNotifier(opts: NotifierOptions): Notifier {
  const stop = new AbortController();
  const at = new Map<string, number>();
  const redact = redactor(opts.secrets);
  // Promise.withResolvers is Node 22: written out for Node 20.
  const started = opts.channels.map(() => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  });
  const loops = opts.channels.map((ch, i) =>
    // A loop that fails (the position cannot be written: disk full) starts again from its saved position.
    withBackoff(
      () => runChannel(ch, opts, stop.signal, redact, (seq) => at.set(ch.provider.name, seq), started[i]!.resolve),
      {
        initialMs: opts.retry?.initialMs ?? 1_000,
        maxMs: opts.retry?.maxMs ?? 60_000,
        signal: stop.signal,
        retryable: () => !stop.signal.aborted,
        onRetry: (e, attempt, delayMs) => {
          // A provider that cannot start (a damaged position file) must not hold up the others or the reconciler.
          started[i]!.resolve();
          opts.logger.error({ event: 'NotifierFailed', provider: ch.provider.name, attempt, retryInMs: delayMs }, `notifications to ${ch.provider.name} failed: ${redact((e as Error).message)}; starting again from the saved position`);
        },
      },
    ).catch(() => undefined).finally(() => started[i]!.resolve()),
  );
  return {
    ready: Promise.all(started.map((s) => s.promise)).then(() => undefined),
    positions: () => Object.fromEntries(opts.channels.map((c) => [c.provider.name, at.get(c.provider.name) ?? 0])),
    async drain(seq, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (opts.channels.some((c) => (at.get(c.provider.name) ?? 0) < seq)) {
        if (Date.now() >= deadline || stop.signal.aborted) return false;
        await new Promise((r) => setTimeout(r, 25));
      }
      return true;
    },
    async stop() {
      stop.abort();
      await Promise.all(loops);
    },
  };
}

async function runChannel(ch: Channel, opts: NotifierOptions, signal: AbortSignal, redact: (s: string) => string, moved: (seq: number) => void, started: () => void): Promise<void> {
  const name = ch.provider.name;
  const file = positionFile(opts.dir, name);
  const log = opts.logger.child({ provider: name });
  let position: Position | null = await loadPosition(file);
  if (!position) {
    // A provider new to this state directory starts at the end of the log: history is folded, not sent.
    const head = await opts.source.head();
    position = { version: 1, seq: 0, silentUntil: head, fold: emptyFold() };
    await savePosition(file, position);
    log.info({ event: 'NotifierStarted', from: head + 1 }, `notifications to ${name} start after event ${head}`);
  }
  moved(position.seq);
  started();
  let unsaved = 0;
  try {
    for await (const e of opts.source.follow(position.seq, { signal })) {
      const n = step(position.fold, e);
      const send = n !== null && e.seq > position.silentUntil && ch.kinds.has(n.kind) && ch.provider.accepts(n);
      if (send && !(await deliver(ch, n, signal, log, redact, opts.retry))) {
        // Stopped mid-delivery: the fold already holds this event, so this position is not saved.
        unsaved = 0;
        return;
      }
      position.seq = e.seq;
      moved(e.seq);
      if (send || ++unsaved >= SAVE_EVERY) {
        await savePosition(file, position);
        unsaved = 0;
      }
    }
  } finally {
    if (unsaved > 0) await savePosition(file, position);
  }
}

/** True once delivered or refused for good; false when stopped first. Retries until then. */
async function deliver(ch: Channel, n: Notification, stop: AbortSignal, log: Logger, redact: (s: string) => string, retry: NotifierOptions['retry']): Promise<boolean> {
  const fields = { event: 'Notification', kind: n.kind, revision: n.revision, seq: n.seq, id: n.id, ...(n.host ? { host: n.host } : {}) };
  try {
    await withBackoff(() => ch.provider.deliver(n, AbortSignal.any([stop, AbortSignal.timeout(ch.timeoutMs)])), {
      initialMs: retry?.initialMs ?? 1_000,
      maxMs: retry?.maxMs ?? 60_000,
      signal: stop,
      retryable: (e) => !stop.aborted && (e as { retryable?: boolean }).retryable !== false,
      onRetry: (e, attempt, delayMs) =>
        log.warn({ ...fields, event: 'NotificationRetry', attempt, retryInMs: delayMs }, `${ch.provider.type} ${ch.provider.name}: delivery failed (${redact((e as Error).message)}), retrying`),
    });
  } catch (e) {
    if (stop.aborted) return false;
    log.error({ ...fields, event: 'NotificationDropped' }, `${ch.provider.type} ${ch.provider.name}: refused ${n.kind} for ${n.revision.slice(0, 12)} for good (${redact((e as Error).message)}); moving on`);
    return true;
  }
  log.info({ ...fields, event: 'NotificationSent' }, `${ch.provider.type} ${ch.provider.name}: sent ${n.kind}`);
  return true;
}

function redactor(secrets: readonly string[]): (s: string) => string {
  const values = [...new Set(secrets.filter((s) => s.length >= 4))].sort((a, b) => b.length - a.length);
  return (s) => values.reduce((text, v) => text.split(v).join('[redacted]'), s);
}
