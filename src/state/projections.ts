import { isHostResult, type CheckOutcome, type HostOutput, type PalisadeEvent, type ResumableState, type RolloutOutcome } from '../eventlog/events.js';
import type { Projection as SnapshotProjection } from '../eventlog/snapshot.js';
import type { Resource } from '../model/schemas.js';
import type { SourceLocation } from './desired-state.js';

/**
 * Read models rebuilt by replaying the event log. They are pure folds so restart, `palisade
 * events`, `palisade history` and the tests all see the same state.
 */

export interface HostProgress {
  state: string;
  wave: number;
  reason?: string;
  checks?: CheckOutcome[];
  rulesetHash?: string;
  /** Checks already failing before the change (from the baseline run). */
  baselineFailures?: string[];
  /** While soaking: when the soak ends (epoch ms). */
  soakUntil?: number;
  /** Events recorded for the host in this attempt: numbers the next one's key, so a state entered again is recorded again. */
  steps: number;
}

export interface RevisionProgress {
  revision: string;
  author?: string;
  message?: string;
  committedAt?: string;
  observedAt?: string;
  /** First seen right after a force-push rewrote the history before it. */
  afterRewrite?: boolean;
  rejected: boolean;
  waves: { name: string; hosts: string[] }[] | null;
  hosts: Record<string, HostProgress>;
  outcome: RolloutOutcome | null;
  failedHosts: string[];
  durationMs?: number;
  /** Hosts in the order they were confirmed (a rollback undoes the newest first). */
  confirmedOrder: string[];
  /** 0 for the first rollout; +1 for each `palisade rollout retry`. */
  attempt: number;
  /** The last operator request (pause, resume, abort, retry). */
  control?: string;
  /** A wave failed under `onFailure: rollback` and the undo of confirmed hosts began. */
  undoing?: true;
}

export interface ReconcilerState {
  /** Revisions in the order they were first seen. */
  revisions: Map<string, RevisionProgress>;
  /** Current resources (`Kind/name` → resource) after every ResourcesChanged so far. */
  resources: Map<string, { resource: Resource; source: SourceLocation }>;
  /** Revision of the last ResourcesChanged: the base the next commit is diffed against. */
  desiredRevision: string | null;
  lastSeq: number;
  /** A HistoryRewritten was seen and no commit observed since. */
  rewritePending: boolean;
}

export const emptyReconcilerState = (): ReconcilerState => ({ revisions: new Map(), resources: new Map(), desiredRevision: null, lastSeq: 0, rewritePending: false });

function progress(p: ReconcilerState, revision: string): RevisionProgress {
  let r = p.revisions.get(revision);
  if (!r) {
    r = { revision, rejected: false, waves: null, hosts: {}, outcome: null, failedHosts: [], confirmedOrder: [], attempt: 0 };
    p.revisions.set(revision, r);
  }
  return r;
}

/** Folds one event into the projection (mutates it: replay of long logs must not copy maps). */
export function applyEvent(p: ReconcilerState, e: PalisadeEvent): ReconcilerState {
  p.lastSeq = e.seq;
  const r = progress(p, e.revision);
  switch (e.type) {
    case 'CommitObserved':
      Object.assign(r, { author: e.author, message: e.message, committedAt: e.committedAt, observedAt: e.time, afterRewrite: p.rewritePending });
      p.rewritePending = false;
      break;
    case 'CommitRejected':
      r.rejected = true;
      break;
    case 'ResourcesChanged':
      for (const c of e.changes) {
        if (c.change === 'removed') p.resources.delete(c.key);
        else if (c.resource && c.source) p.resources.set(c.key, { resource: c.resource as Resource, source: c.source });
      }
      p.desiredRevision = e.revision;
      break;
    case 'RolloutStarted':
      r.waves = e.waves;
      break;
    case 'HostTransition': {
      const was = r.hosts[e.host]?.state;
      const baseline = e.to === 'applying' ? e.checks?.filter((c) => c.preexisting).map((c) => c.name) : r.hosts[e.host]?.baselineFailures;
      r.hosts[e.host] = {
        state: e.to,
        wave: e.wave,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...(e.checks !== undefined ? { checks: e.checks } : {}),
        ...(e.rulesetHash !== undefined ? { rulesetHash: e.rulesetHash } : {}),
        ...(baseline?.length ? { baselineFailures: baseline } : {}),
        ...(e.soakUntil !== undefined ? { soakUntil: e.soakUntil } : {}),
        steps: (r.hosts[e.host]?.steps ?? 0) + 1,
      };
      // A host is in confirmedOrder exactly while its last transition was to `confirmed`, so
      // only leaving that state needs the search (doing it on every event is quadratic).
      if (was === 'confirmed') r.confirmedOrder = r.confirmedOrder.filter((h) => h !== e.host);
      if (e.to === 'confirmed') r.confirmedOrder.push(e.host);
      break;
    }
    case 'HostResumed': {
      // The state stays what the log last said until the new run's first transition: a crash in
      // between resumes the host from there again.
      const h = r.hosts[e.host];
      if (e.cause === 'undo') r.undoing = true;
      if (h) h.steps += 1;
      else r.hosts[e.host] = { state: e.from, wave: e.wave, steps: 1 };
      break;
    }
    case 'RolloutFinished':
      r.outcome = e.outcome;
      r.failedHosts = e.failedHosts;
      r.durationMs = e.durationMs;
      break;
    case 'RolloutControl':
      r.control = e.action;
      if (e.action === 'retry') {
        // A retry starts the revision over: new waves, every host queued again.
        Object.assign(r, { waves: null, hosts: {}, outcome: null, failedHosts: [], confirmedOrder: [], attempt: r.attempt + 1 });
        delete r.durationMs;
        delete r.undoing;
      }
      break;
    case 'HistoryRewritten':
      p.rewritePending = true;
      break;
  }
  return p;
}

/** The reconciler's fold as a snapshot-able projection (`replay()` restores it in bounded time). */
export const reconcilerProjection: SnapshotProjection<ReconcilerState> = {
  name: 'reconciler',
  // 2: hosts count their steps (HostResumed).
  version: 2,
  init: emptyReconcilerState,
  apply: applyEvent,
  encode: (p) => ({ ...p, revisions: [...p.revisions], resources: [...p.resources] }),
  decode: (json) => {
    const j = json as Omit<ReconcilerState, 'revisions' | 'resources'> & { revisions: [string, RevisionProgress][]; resources: [string, { resource: Resource; source: SourceLocation }][] };
    return { ...j, revisions: new Map(j.revisions), resources: new Map(j.resources) };
  },
};

/** Revisions in the order they were seen, as `palisade history` lists them. */
export const observedRevisions = (p: ReconcilerState): RevisionProgress[] => [...p.revisions.values()].filter((r) => r.observedAt);

/** One word for where a revision stands. */
export function revisionOutcome(r: RevisionProgress): string {
  if (r.rejected) return 'rejected';
  if (r.outcome) return r.outcome;
  return r.waves ? 'rolling-out' : 'observed';
}

export const project = (events: readonly PalisadeEvent[], from: ReconcilerState = emptyReconcilerState()): ReconcilerState => events.reduce(applyEvent, from);


/** A revision is finished when it was rejected or its rollout reached an outcome. */
export const isFinished = (r: RevisionProgress | undefined): boolean => !!r && (r.rejected || r.outcome !== null);

const RESUME_AT: Record<string, ResumableState> = {
  applying: 'applying',
  verifying: 'verifying',
  soaking: 'soaking',
  rollingBack: 'rollingBack',
  // Restoring the previous ruleset is idempotent, so an interrupted post-rollback check
  // safely restarts from the restore.
  verifyingRollback: 'rollingBack',
};

/** Where an interrupted rollout picks up: hosts already settled, and hosts caught mid-flight. */
export function resumePoint(r: RevisionProgress): {
  settled: Record<string, HostOutput>;
  inFlight: Record<string, { state: ResumableState; soakUntil: number | null }>;
  baselineFailures: Record<string, string[]>;
  confirmedOrder: string[];
  undoing: boolean;
} {
  const settled: Record<string, HostOutput> = {};
  const inFlight: Record<string, { state: ResumableState; soakUntil: number | null }> = {};
  const baselineFailures: Record<string, string[]> = {};
  for (const [host, h] of Object.entries(r.hosts)) {
    if (isHostResult(h.state)) settled[host] = { host, result: h.state, reason: h.reason ?? null, checks: h.checks ?? [] };
    else if (RESUME_AT[h.state]) inFlight[host] = { state: RESUME_AT[h.state]!, soakUntil: h.state === 'soaking' ? (h.soakUntil ?? null) : null };
    if (h.baselineFailures) baselineFailures[host] = h.baselineFailures;
  }
  return { settled, inFlight, baselineFailures, confirmedOrder: r.confirmedOrder, undoing: r.undoing === true };
}
