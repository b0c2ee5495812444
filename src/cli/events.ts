import type { PalisadeEvent } from '../eventlog/events.js';
import { isEventLogError } from '../eventlog/errors.js';
import { openFileEventStore } from '../eventlog/file-store.js';
import { stateLayout } from '../eventlog/layout.js';
import { parseCommand } from './args.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const EVENTS_USAGE = `usage: palisade events --state DIR [--since SEQ] [--type TYPE]... [-o text|json] [--follow]

Prints the event log. --since shows events after SEQ; --type (repeatable or comma-separated)
keeps only those types; -o json prints one event per line as JSON (--json: the old spelling);
-f/--follow keeps printing new events as the reconciler appends them (Ctrl-C ends).
Exit status: 0 printed, 1 the event log could not be read, 2 usage error.
`;

const SPEC = {
  name: 'events',
  usage: EVENTS_USAGE,
  options: { state: { type: 'string' }, since: { type: 'integer', default: 0, min: 0 }, type: { type: 'strings' }, follow: { type: 'boolean', short: 'f' } },
  output: { formats: ['text', 'json'], legacy: ['json'] },
} as const;

/** `palisade events`: reads the log read-only, so it is safe next to a running reconciler. */
export async function runEvents(argv: readonly string[], io: CommandIO): Promise<number> {
  const parsed = parseCommand(argv, SPEC, io);
  if (!parsed) return EXIT.ok;
  const args = { ...parsed.values, json: parsed.output === 'json' };
  const since = args.since;
  if (!args.state) throw new UsageError('--state DIR is required');
  const types = new Set(args.type.flatMap((t) => t.split(',')).filter(Boolean));
  const show = (e: PalisadeEvent) => {
    if (types.size > 0 && !types.has(e.type)) return;
    io.stdout.write(args.json ? `${JSON.stringify(e)}\n` : `${formatEvent(e)}\n`);
  };
  try {
    const store = await openFileEventStore(stateLayout(args.state).events, { readOnly: true });
    try {
      if (args.follow) {
        for await (const e of store.follow(since, { signal: io.signal })) show(e);
      } else {
        for await (const batch of store.iterate(since)) batch.forEach(show);
      }
    } finally {
      await store.close();
    }
    return EXIT.ok;
  } catch (e) {
    io.stderr.write(`palisade events: ${isEventLogError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
    return EXIT.failure;
  }
}

export function formatEvent(e: PalisadeEvent): string {
  return `${String(e.seq).padStart(6)}  ${e.time}  ${e.type.padEnd(16)}  ${e.revision.slice(0, 10).padEnd(10)}  ${summary(e)}`;
}

const firstLine = (s: string) => s.split('\n', 1)[0] ?? '';

function summary(e: PalisadeEvent): string {
  switch (e.type) {
    case 'CommitObserved':
      return `${e.author}: ${firstLine(e.message)}`;
    case 'ResourcesChanged': {
      const n = (c: string) => e.changes.filter((x) => x.change === c).length;
      return `+${n('added')} ~${n('modified')} -${n('removed')}${e.base ? ` since ${e.base.slice(0, 10)}` : ''}`;
    }
    case 'CommitRejected':
      return `${e.errors.length} error(s)${e.errors[0] ? `: ${e.errors[0].file}:${e.errors[0].line}:${e.errors[0].col} ${e.errors[0].message}` : ''}`;
    case 'HistoryRewritten':
      return `${e.previousHead.slice(0, 10)} -> ${e.newHead.slice(0, 10)} (force-push)`;
    case 'RolloutStarted':
      return e.waves.map((w) => `${w.name}(${w.hosts.length})`).join(' ');
    case 'HostTransition':
      return `${e.host} ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}`;
    case 'HostResumed':
      return `${e.host} resumed from ${e.from} (${e.cause})`;
    case 'RolloutFinished':
      return `${e.outcome} in ${formatDuration(e.durationMs)}${e.failedHosts.length ? `, failed: ${e.failedHosts.join(',')}` : ''}`;
    case 'RolloutControl':
      return `${e.action} requested by ${e.by}`;
    case 'DriftDetected':
      return `${e.host}: ${e.details}${e.restored ? ' (restored)' : ' (NOT restored)'}`;
  }
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1_000)).padStart(2, '0')}s`;
}
