import type { CommitOutcome, EventType, PalisadeEvent } from '../eventlog/events.js';
import type { Projection } from '../eventlog/snapshot.js';
import type { HostInRevision, HostStatus, RevisionStatus } from './schema.js';

/**
 * The status model: what the API, the rollout page, `/metrics`, `palisade rollout status` and
 * the notifiers read. A pure fold over the event log, so every reader — live in the reconciler,
 * or rebuilt from the log by the CLI after a restart — sees the same thing. Plain JSON (no Maps),
 * so a snapshot is the value itself.
 */

/** Bucket counts of one histogram (upper bounds in seconds, cumulative counts as Prometheus reports them). */
export interface HistogramCounts {
  counts: number[];
  sum: number;
  count: number;
}

export interface StatusModel {
  lastSeq: number;
  /** Time of the last event folded. */
  updatedAt: string | null;
  /** Revisions in the order they were first seen. */
  order: string[];
  revisions: Record<string, RevisionStatus>;
  hosts: Record<string, HostStatus>;
  counters: {
    events: Partial<Record<EventType, number>>;
    commits: number;
    /** Finished rollouts by outcome; rejected commits count as `rejected`. */
    rollouts: Partial<Record<CommitOutcome, number>>;
    /** Rollbacks started (`→ rollingBack`), an undo of a confirmed host included. */
    hostRollbacks: number;
    drift: number;
  };
  /** Apply time by outcome (applied, failed) and check time by check and outcome (`name ok`). */
  durations: { apply: Record<string, HistogramCounts>; check: Record<string, HistogramCounts> };
}

/** Apply and check times span milliseconds to a minute (seconds). */
export const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export const emptyStatus = (): StatusModel => ({
  lastSeq: 0,
  updatedAt: null,
  order: [],
  revisions: {},
  hosts: {},
  counters: { events: {}, commits: 0, rollouts: {}, hostRollbacks: 0, drift: 0 },
  durations: { apply: {}, check: {} },
});

function revisionOf(m: StatusModel, revision: string): RevisionStatus {
  let r = m.revisions[revision];
  if (!r) {
    r = { revision, outcome: null, attempt: 0, waves: [], hosts: {}, failedHosts: [] };
    m.revisions[revision] = r;
  }
  return r;
}

function observe(table: Record<string, HistogramCounts>, key: string, seconds: number): void {
  const h = (table[key] ??= { counts: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 });
  for (const [i, le] of DURATION_BUCKETS.entries()) if (seconds <= le) h.counts[i]!++;
  h.sum += seconds;
  h.count++;
}

const bump = <K extends string>(table: Partial<Record<K, number>>, key: K) => {
  table[key] = (table[key] ?? 0) + 1;
};

/** Folds one event in (mutates `m`: replaying a long log must not copy it). */
export function applyStatusEvent(m: StatusModel, e: PalisadeEvent): StatusModel {
  m.lastSeq = e.seq;
  m.updatedAt = e.time;
  bump(m.counters.events, e.type);
  // Drift is about a host, a rewrite about the branch: neither opens a revision.
  if (e.type === 'HistoryRewritten' || e.type === 'DriftDetected') {
    if (e.type === 'DriftDetected') {
      m.counters.drift++;
      const h = m.hosts[e.host];
      if (h) h.drift = { time: e.time, details: e.details, restored: e.restored };
    }
    return m;
  }
  const r = revisionOf(m, e.revision);
  switch (e.type) {
    case 'CommitObserved':
      if (!r.observedAt) m.order.push(e.revision);
      Object.assign(r, { author: e.author, message: e.message, committedAt: e.committedAt, observedAt: e.time });
      m.counters.commits++;
      break;
    case 'CommitRejected':
      Object.assign(r, { outcome: 'rejected', errors: e.errors, finishedAt: e.time });
      bump(m.counters.rollouts, 'rejected');
      break;
    case 'RolloutStarted':
      Object.assign(r, { waves: e.waves, startedAt: e.time });
      break;
    case 'HostTransition': {
      const failing = (e.checks ?? []).filter((c) => !c.ok && !c.preexisting).map((c) => ({ name: c.name, detail: c.detail }));
      const failedChecks = failing.length ? failing : r.hosts[e.host]?.failedChecks;
      const at: HostInRevision = {
        state: e.to,
        wave: e.wave,
        since: e.time,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...((e.checks ?? r.hosts[e.host]?.checks) ? { checks: e.checks ?? r.hosts[e.host]!.checks! } : {}),
        ...(e.soakUntil !== undefined ? { soakUntil: e.soakUntil } : {}),
        ...(failedChecks ? { failedChecks } : {}),
      };
      const before = r.hosts[e.host];
      r.hosts[e.host] = at;
      const h = m.hosts[e.host];
      const held = h?.revision ?? null;
      // The first change of a revision on a host remembers what it held: what a rollback restores.
      const previous = !h || h.stateRevision !== e.revision ? held : h.previous;
      const revision = e.to === 'confirmed' ? e.revision : e.to === 'rolledBack' ? previous : held;
      m.hosts[e.host] = {
        name: e.host,
        ...at,
        ...(at.checks ? {} : h?.checks ? { checks: h.checks } : {}),
        revision,
        stateRevision: e.revision,
        previous,
        ...(h?.drift ? { drift: h.drift } : {}),
      };
      if (e.to === 'rollingBack') m.counters.hostRollbacks++;
      if (e.from === 'applying' && before?.state === 'applying') {
        observe(m.durations.apply, e.to === 'verifying' ? 'applied' : 'failed', Math.max(0, Date.parse(e.time) - Date.parse(before.since)) / 1000);
      }
      for (const c of e.checks ?? []) if (c.durationMs !== undefined) observe(m.durations.check, `${c.name} ${c.ok ? 'ok' : 'failed'}`, c.durationMs / 1000);
      break;
    }
    case 'RolloutFinished':
      Object.assign(r, { outcome: e.outcome, failedHosts: e.failedHosts, durationMs: e.durationMs, finishedAt: e.time });
      bump(m.counters.rollouts, e.outcome);
      break;
    case 'RolloutControl':
      r.control = { action: e.action, by: e.by, time: e.time };
      if (e.action === 'retry') {
        // A retry starts the revision over: new waves, every host queued again.
        Object.assign(r, { outcome: null, waves: [], hosts: {}, failedHosts: [], attempt: r.attempt + 1 });
        for (const k of ['startedAt', 'finishedAt', 'durationMs'] as const) delete r[k];
        // The retry's before-snapshots are taken afresh: a rollback returns to what hosts hold now.
        for (const h of Object.values(m.hosts)) if (h.stateRevision === e.revision) h.previous = h.revision;
      }
      break;
  }
  return m;
}

export const foldStatus = (events: readonly PalisadeEvent[], from: StatusModel = emptyStatus()): StatusModel => events.reduce(applyStatusEvent, from);

export const statusProjection: Projection<StatusModel> = {
  name: 'status',
  version: 1,
  init: emptyStatus,
  apply: applyStatusEvent,
};

/** What readers of the live model get (the reconciler provides it): the model, and the log behind it. */
export interface StatusSource {
  model(): StatusModel;
  /** Events with `seq > since`, in order. */
  read(since: number): Promise<PalisadeEvent[]>;
  /** Every batch of events as it is folded into the model, in order. Returns the unsubscribe. */
  subscribe(listener: (events: readonly PalisadeEvent[]) => void): () => void;
}
