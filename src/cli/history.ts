import { isEventLogError } from '../eventlog/errors.js';
import { openFileEventStore } from '../eventlog/file-store.js';
import { stateLayout } from '../eventlog/layout.js';
import { replay } from '../eventlog/snapshot.js';
import { observedRevisions, reconcilerProjection, revisionOutcome, type RevisionProgress } from '../state/projections.js';
import { formatDuration } from './events.js';
import { parseCommand } from './args.js';
import { EXIT, UsageError, type CommandIO } from './io.js';

export const HISTORY_USAGE = `usage: palisade history --state DIR [-o text|json]

One line per revision, oldest first: commit, author, message, outcome, duration.
-o json prints one JSON object per line (--json: the old spelling).
Exit status: 0 printed, 1 the event log could not be read, 2 usage error.
`;

const SPEC = { name: 'history', usage: HISTORY_USAGE, options: { state: { type: 'string' } }, output: { formats: ['text', 'json'], legacy: ['json'] } } as const;

export async function runHistory(argv: readonly string[], io: CommandIO): Promise<number> {
  const parsed = parseCommand(argv, SPEC, io);
  if (!parsed) return EXIT.ok;
  const args = { state: parsed.values.state, json: parsed.output === 'json' };
  if (!args.state) throw new UsageError('--state DIR is required');
  try {
    const store = await openFileEventStore(stateLayout(args.state).events, { readOnly: true });
    const { state } = await replay(store, reconcilerProjection).finally(() => store.close());
    for (const r of observedRevisions(state)) io.stdout.write(args.json ? `${JSON.stringify(historyRecord(r))}\n` : `${formatRevision(r)}\n`);
    return EXIT.ok;
  } catch (e) {
    io.stderr.write(`palisade history: ${isEventLogError(e) ? `${e.code}: ` : ''}${(e as Error).message}\n`);
    return EXIT.failure;
  }
}

/** The `--json` form of a revision: stable field names for scripts. */
function historyRecord(r: RevisionProgress) {
  return {
    revision: r.revision,
    author: r.author ?? '',
    message: r.message ?? '',
    committedAt: r.committedAt ?? '',
    observedAt: r.observedAt ?? '',
    outcome: revisionOutcome(r),
    durationMs: r.durationMs ?? null,
    failedHosts: r.failedHosts,
    attempt: r.attempt,
    afterRewrite: r.afterRewrite ?? false,
  };
}

export function formatRevision(r: RevisionProgress): string {
  const message = ((r.message ?? '').split('\n', 1)[0] ?? '').slice(0, 60);
  const outcome = r.failedHosts.length ? `${revisionOutcome(r)} (${r.failedHosts.length} failed)` : revisionOutcome(r);
  const duration = r.durationMs === undefined ? '-' : formatDuration(r.durationMs);
  return [r.revision.slice(0, 10), (r.committedAt ?? '').slice(0, 16).replace('T', ' '), r.author ?? '', outcome.padEnd(11), duration.padStart(6), `${r.afterRewrite ? '[after force-push] ' : ''}${message}`].join('  ');
}
