import type { HostOutput, HostResult, ResumableState } from '../../machines/host.js';
import type { RolloutOutcome } from '../../machines/rollout.js';
import type { CheckOutcome, PalisadeEvent } from '../eventlog/events.js';
import type { Resource } from '../model/schemas.js';
import { desiredStateOf, type DesiredState, type SourceLocation } from './desired-state.js';

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
}

export interface RevisionProgress {
  revision: string;
  author?: string;
  message?: string;
  observedAt?: string;
  rejected: boolean;
  waves: { name: string; hosts: string[] }[] | null;
  hosts: Record<string, HostProgress>;
  outcome: RolloutOutcome | 'superseded' | null;
  failedHosts: string[];
  durationMs?: number;
}

export interface Projection {
  /** Revisions in the order they were first seen. */
  revisions: Map<string, RevisionProgress>;
  /** Current resources (`Kind/name` → resource) after every ResourcesChanged so far. */
  resources: Map<string, { resource: Resource; source: SourceLocation }>;
  /** Revision of the last ResourcesChanged: the base the next commit is diffed against. */
  desiredRevision: string | null;
  lastSeq: number;
}

export const emptyProjection = (): Projection => ({ revisions: new Map(), resources: new Map(), desiredRevision: null, lastSeq: 0 });

function progress(p: Projection, revision: string): RevisionProgress {
  let r = p.revisions.get(revision);
  if (!r) {
    r = { revision, rejected: false, waves: null, hosts: {}, outcome: null, failedHosts: [] };
    p.revisions.set(revision, r);
  }
  return r;
}

/** Folds one event into the projection (mutates it: replay of long logs must not copy maps). */
export function applyEvent(p: Projection, e: PalisadeEvent): Projection {
  p.lastSeq = e.seq;
  const r = progress(p, e.revision);
  switch (e.type) {
    case 'CommitObserved':
      Object.assign(r, { author: e.author, message: e.message, observedAt: e.time });
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
    case 'HostTransition':
      r.hosts[e.host] = {
        state: e.to,
        wave: e.wave,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...(e.checks !== undefined ? { checks: e.checks } : {}),
        ...(e.rulesetHash !== undefined ? { rulesetHash: e.rulesetHash } : {}),
      };
      break;
    case 'RolloutFinished':
      r.outcome = e.outcome;
      r.failedHosts = e.failedHosts;
      r.durationMs = e.durationMs;
      break;
    case 'HistoryRewritten':
      break;
  }
  return p;
}

export const project = (events: readonly PalisadeEvent[], from: Projection = emptyProjection()): Projection => events.reduce(applyEvent, from);

export function desiredStateFromProjection(p: Projection): DesiredState {
  return desiredStateOf([...p.resources.values()]);
}

/** A revision is finished when it was rejected or its rollout reached an outcome. */
export const isFinished = (r: RevisionProgress | undefined): boolean => !!r && (r.rejected || r.outcome !== null);

const TERMINAL: ReadonlySet<string> = new Set<HostResult>(['confirmed', 'rolledBack', 'failed', 'unreachable']);
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
} {
  const settled: Record<string, HostOutput> = {};
  const inFlight: Record<string, { state: ResumableState; soakUntil: number | null }> = {};
  for (const [host, h] of Object.entries(r.hosts)) {
    if (TERMINAL.has(h.state)) settled[host] = { host, result: h.state as HostResult, reason: h.reason ?? null, checks: h.checks ?? [] };
    else if (RESUME_AT[h.state]) inFlight[host] = { state: RESUME_AT[h.state]!, soakUntil: null };
  }
  return { settled, inFlight };
}
