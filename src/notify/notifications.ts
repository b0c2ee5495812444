import { isHostResult, type CheckOutcome, type PalisadeEvent } from '../eventlog/events.js';
import { formatModelError } from '../model/errors.js';
import type { NotifyKind } from './kinds.js';

/**
 * From events to notifications: a pure fold over the log. Each event yields at most one
 * notification, identified by the event's idempotency key (the dedupe key receivers see), so a
 * notification re-sent after a restart is recognisably the same one.
 */

export interface Progress {
  confirmed: number;
  total: number;
}

/** The first host that failed its checks in a rollout, and why: what a failure status names. */
export interface Failure {
  host: string;
  /** The first failing check, `name: detail`, when checks failed. */
  check?: string;
  reason?: string;
}

export interface Notification {
  /** Dedupe key: the same event always yields the same id. */
  id: string;
  kind: NotifyKind;
  seq: number;
  time: string;
  revision: string;
  /** The log's event type it came from (`HostTransition`, `RolloutFinished`, …). */
  type: PalisadeEvent['type'];
  /** First line of the commit message, when the commit was seen. */
  title?: string;
  outcome?: string;
  host?: string;
  wave?: number;
  reason?: string;
  failedChecks?: string[];
  failedHosts?: string[];
  progress?: Progress;
  failure?: Failure;
  durationMs?: number;
}

/** What the fold keeps per rollout that has not finished; small, and persisted with each position. */
export interface OpenRevision {
  title?: string;
  total: number;
  confirmed: string[];
  failure?: Failure;
}
export interface NotifyFold {
  open: Record<string, OpenRevision>;
}
export const emptyFold = (): NotifyFold => ({ open: {} });

const MAX_REASON = 1000;
/** States in which a host is first seen failing (a rollback starts, or it never got the change). */
const FAILING: ReadonlySet<string> = new Set(['rollingBack', 'failed', 'unreachable', 'rejected']);

const failing = (checks: readonly CheckOutcome[] | undefined) => (checks ?? []).filter((c) => !c.ok && !c.preexisting).map((c) => `${c.name}: ${c.detail}`);
const clip = (s: string) => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON - 1)}…` : s);

/** Folds one event in (mutating `fold`) and returns the notification it makes, if any. */
export function step(fold: NotifyFold, e: PalisadeEvent): Notification | null {
  const base = { id: e.key, seq: e.seq, time: e.time, revision: e.revision, type: e.type };
  const open = fold.open[e.revision];
  const title = open?.title;
  const withTitle = title ? { title } : {};
  switch (e.type) {
    case 'CommitObserved':
      fold.open[e.revision] = { title: e.message.split('\n')[0] ?? '', total: 0, confirmed: [] };
      return null;
    case 'CommitRejected': {
      delete fold.open[e.revision];
      const first = e.errors[0];
      const reason = `${e.errors.length} error${e.errors.length === 1 ? '' : 's'}${first ? `; first: ${formatModelError(first as Parameters<typeof formatModelError>[0])}` : ''}`;
      return { ...base, ...withTitle, kind: 'rejected', outcome: 'rejected', reason: clip(reason) };
    }
    case 'RolloutStarted': {
      const total = e.waves.reduce((n, w) => n + w.hosts.length, 0);
      fold.open[e.revision] = { ...(title ? { title } : {}), total, confirmed: [] };
      return { ...base, ...withTitle, kind: 'started', progress: { confirmed: 0, total } };
    }
    case 'HostResumed': {
      // An undo (a later wave failed) starts a new run of a confirmed host: it no longer counts.
      const r = (fold.open[e.revision] ??= { total: 0, confirmed: [] });
      if (e.from === 'confirmed') r.confirmed = r.confirmed.filter((h) => h !== e.host);
      return null;
    }
    case 'HostTransition': {
      const r = (fold.open[e.revision] ??= { total: 0, confirmed: [] });
      const checks = failing(e.checks);
      if (e.from === 'confirmed') r.confirmed = r.confirmed.filter((h) => h !== e.host);
      if (e.to === 'confirmed') r.confirmed.push(e.host);
      // The first host to fail is the one a status names; hosts undone after it were fine.
      // The first host to fail is the one a status names; hosts undone after it were fine.
      if (FAILING.has(e.to)) r.failure ??= { host: e.host, ...(checks[0] ? { check: checks[0] } : {}), ...(e.reason ? { reason: clip(e.reason) } : {}) };
      if (!isHostResult(e.to)) return null;
      const kind: NotifyKind = e.to;
      return {
        ...base,
        ...withTitle,
        kind,
        host: e.host,
        wave: e.wave,
        ...(e.reason ? { reason: clip(e.reason) } : {}),
        // A rolled-back host's final transition carries no checks: the ones that failed it are in the fold.
        ...(checks.length ? { failedChecks: checks } : r.failure?.host === e.host && r.failure.check ? { failedChecks: [r.failure.check] } : {}),
        progress: { confirmed: r.confirmed.length, total: r.total },
        ...(r.failure ? { failure: r.failure } : {}),
      };
    }
    case 'RolloutFinished': {
      delete fold.open[e.revision];
      const failure = open?.failure;
      return {
        ...base,
        ...withTitle,
        kind: e.outcome,
        outcome: e.outcome,
        failedHosts: e.failedHosts,
        durationMs: e.durationMs,
        ...(open ? { progress: { confirmed: open.confirmed.length, total: open.total } } : {}),
        ...(failure ? { failure } : {}),
      };
    }
    case 'DriftDetected':
      return { ...base, kind: 'drift', host: e.host, reason: clip(e.details), outcome: e.restored ? 'restored' : 'not restored' };
    default:
      return null;
  }
}

/** One line for people (Slack, logs): what happened, where, and why. */
export function summaryOf(n: Notification): string {
  const rev = n.revision.slice(0, 12);
  const title = n.title ? ` (${n.title})` : '';
  const progress = n.progress ? `${n.progress.confirmed}/${n.progress.total} hosts confirmed` : '';
  const failure = n.failure ? `${n.failure.host}${n.failure.check ? ` — ${n.failure.check}` : n.failure.reason ? ` — ${n.failure.reason}` : ''}` : '';
  switch (n.kind) {
    case 'started':
      return `rollout of ${rev}${title} started: ${n.progress?.total ?? 0} hosts`;
    case 'confirmed':
      return `${n.host} confirmed ${rev}: ${progress}`;
    case 'rolledBack':
    case 'failed':
    case 'unreachable':
    case 'rejected':
      if (n.host) return `${n.host} ${n.kind === 'rolledBack' ? 'rolled back' : n.kind === 'rejected' ? 'rejected the ruleset of' : n.kind === 'failed' ? 'FAILED (still unreachable after rollback) on' : 'was unreachable for'} ${rev}${n.reason ? `: ${n.reason}` : ''}`;
      if (n.kind === 'rejected') return `commit ${rev}${title} rejected, nothing applied: ${n.reason ?? ''}`;
      return `rollout of ${rev}${title} rolled back${failure ? `: ${failure}` : ''}`;
    case 'halted':
      return `rollout of ${rev}${title} halted${failure ? `: ${failure}` : ''} (${progress})`;
    case 'completed':
      return `rollout of ${rev}${title} completed: ${progress}`;
    case 'aborted':
      return `rollout of ${rev}${title} aborted by an operator (${progress})`;
    case 'superseded':
      return `rollout of ${rev}${title} superseded by a newer commit`;
    case 'drift':
      return `${n.host}: table changed outside Palisade (${n.reason ?? ''}); ${n.outcome}`;
  }
}
