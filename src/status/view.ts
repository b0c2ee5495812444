import { isHostResult } from '../eventlog/events.js';
import type { StatusModel } from './model.js';
import type { Condition, ConditionType, HostInRevision, HostStatus, RevisionPhase, RevisionStatus, RevisionSummary, RevisionView, StatusView, WaveView } from './schema.js';

/**
 * What `GET /api/v1/status` and `GET /api/v1/revisions/{revision}` answer, computed from the
 * status model (pure). The shapes are described by docs/status-api.schema.json.
 */

const IN_FLIGHT = new Set(['preflight', 'applying', 'verifying', 'soaking', 'rollingBack', 'verifyingRollback']);

export function phaseOf(r: RevisionStatus): RevisionPhase {
  if (r.outcome) return r.outcome;
  if (r.waves.length === 0) return 'observed';
  return r.control?.action === 'pause' ? 'paused' : 'rollingOut';
}

export function revisionView(r: RevisionStatus): RevisionView {
  const waves = r.waves.map((w, index): WaveView => {
    const hosts = w.hosts.map((name) => ({ name, ...(r.hosts[name] ?? { state: 'queued', wave: index, since: r.startedAt ?? r.observedAt ?? '' }) }));
    const started = hosts.some((h) => h.state !== 'queued');
    const settled = hosts.every((h) => isHostResult(h.state));
    const state = !started ? 'pending' : !settled ? 'running' : hosts.some((h) => h.state !== 'confirmed') ? 'failed' : 'done';
    return { name: w.name, index, state, hosts };
  });
  // In wave order, the order the rollout met them.
  const failing = waves
    .flatMap((w) => w.hosts)
    .filter((h) => isHostResult(h.state) && h.state !== 'confirmed')
    .map((h) => ({ host: h.name, state: h.state, reason: h.reason ?? null, checks: h.failedChecks ?? [] }));
  return {
    revision: r.revision,
    author: r.author ?? null,
    message: r.message ?? null,
    committedAt: r.committedAt ?? null,
    observedAt: r.observedAt ?? null,
    phase: phaseOf(r),
    outcome: r.outcome,
    attempt: r.attempt,
    startedAt: r.startedAt ?? null,
    finishedAt: r.finishedAt ?? null,
    durationMs: r.durationMs ?? null,
    waves,
    failing,
    errors: r.errors ?? [],
    control: r.control ?? null,
  };
}

export const revisionSummary = (r: RevisionStatus): RevisionSummary => ({
  revision: r.revision,
  message: r.message ?? null,
  author: r.author ?? null,
  observedAt: r.observedAt ?? null,
  phase: phaseOf(r),
  durationMs: r.durationMs ?? null,
  failedHosts: r.failedHosts,
});

/** A revision by its id or an unambiguous prefix of it; null when none or several match. */
export function findRevision(m: StatusModel, id: string): RevisionStatus | null {
  if (m.revisions[id]?.observedAt) return m.revisions[id]!;
  const matches = m.order.filter((r) => r.startsWith(id.toLowerCase()));
  return matches.length === 1 ? m.revisions[matches[0]!]! : null;
}

/** The revision being rolled out, or the newest that was. */
export function currentRevision(m: StatusModel): RevisionStatus | null {
  for (let i = m.order.length - 1; i >= 0; i--) {
    const r = m.revisions[m.order[i]!]!;
    if (r.waves.length > 0) return r;
  }
  return null;
}

const cond = (type: ConditionType, status: boolean, reason: string, message: string, time: string): Condition => ({ type, status: status ? 'True' : 'False', reason, message, lastTransitionTime: time });
const short = (oid: string | null) => (oid ? oid.slice(0, 8) : 'none');
const capital = (s: string) => s[0]!.toUpperCase() + s.slice(1);

/**
 * A host's conditions against the current revision: Ready when it holds it; Progressing while
 * its rollout step runs or waits its turn; Degraded when it was rolled back, is unreachable,
 * refused the ruleset, or drifted without repair; Stalled when nothing more will happen without
 * a newer commit, a retry or a person.
 */
export function hostConditions(h: HostStatus, current: RevisionStatus | null): Condition[] {
  const inCurrent = current?.waves.some((w) => w.hosts.includes(h.name)) ?? false;
  const at: HostInRevision = (current && current.hosts[h.name]) ?? (inCurrent ? { state: 'queued', wave: 0, since: current!.startedAt ?? h.since } : h);
  const target = inCurrent ? current!.revision : h.stateRevision;
  const running = inCurrent && current!.outcome === null;
  const time = at.since;
  const holds = `holds ${short(h.revision)}`;
  let ready = cond('Ready', false, 'NotApplied', `${holds}; ${short(target)} not applied`, time);
  let progressing = cond('Progressing', false, 'Settled', `nothing in flight (${at.state})`, time);
  let degraded = cond('Degraded', false, 'Healthy', 'no failure recorded', time);
  let stalled = cond('Stalled', false, 'NotStalled', 'not waiting for anyone', time);
  const why = at.reason ?? '';
  if (at.state === 'confirmed') ready = cond('Ready', true, 'Confirmed', `${holds}, confirmed`, time);
  else if (IN_FLIGHT.has(at.state) || (at.state === 'queued' && running)) {
    progressing = cond('Progressing', true, capital(at.state), at.state === 'queued' ? `waiting for wave ${at.wave} of ${short(target)}` : `${at.state} ${short(target)}`, time);
    ready = cond('Ready', false, 'Progressing', `${holds}; rolling out ${short(target)}`, time);
  } else if (at.state === 'queued') {
    ready = cond('Ready', false, 'NotRolledOut', `${holds}; the rollout of ${short(target)} ended ${current?.outcome ?? ''} before this host's turn`.trimEnd(), time);
    if (current?.outcome !== 'superseded') stalled = cond('Stalled', true, `Rollout${capital(current?.outcome ?? 'ended')}`, `${short(target)} is pinned until a newer commit or 'palisade rollout retry'`, time);
  } else {
    const [reason, message] =
      at.state === 'rolledBack'
        ? ['RolledBack', `rolled back to ${short(h.revision)}: ${why}`]
        : at.state === 'failed'
          ? ['RollbackFailed', `still unreachable after rollback, needs a person: ${why}`]
          : at.state === 'unreachable'
            ? ['Unreachable', `unreachable before any change: ${why}`]
            : ['DryRunRejected', `refused the ruleset in a dry run: ${why}`];
    degraded = cond('Degraded', true, reason, message.replace(/: $/, ''), time);
    ready = cond('Ready', false, reason, `${holds}; ${short(target)} not applied`, time);
    stalled = cond('Stalled', true, at.state === 'failed' ? 'NeedsOperator' : reason, at.state === 'failed' ? 'a person must restore access' : `${short(target)} is pinned until a newer commit or 'palisade rollout retry'`, time);
  }
  if (h.drift && !h.drift.restored && !degraded.status.startsWith('T')) degraded = cond('Degraded', true, 'DriftNotRestored', `table changed outside Palisade and not restored: ${h.drift.details}`, h.drift.time);
  return [ready, progressing, degraded, stalled];
}

export function statusView(m: StatusModel, now: number, recent = 20): StatusView {
  const current = currentRevision(m);
  const latestId = m.order.at(-1);
  return {
    apiVersion: 'palisade/v1',
    generatedAt: new Date(now).toISOString(),
    now,
    lastSeq: m.lastSeq,
    current: current ? revisionView(current) : null,
    latest: latestId ? revisionSummary(m.revisions[latestId]!) : null,
    hosts: Object.values(m.hosts)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((h) => ({ ...h, current: current?.hosts[h.name] ?? null, conditions: hostConditions(h, current) })),
    revisions: m.order
      .slice(-recent)
      .reverse()
      .map((id) => revisionSummary(m.revisions[id]!)),
  };
}
