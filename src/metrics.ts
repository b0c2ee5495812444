import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PalisadeEvent } from './eventlog/events.js';

/** Every Prometheus metric Palisade exposes, created once per process on one registry. */
export interface PalisadeMetrics {
  registry: Registry;
  commitsSeen: Counter;
  eventsAppended: Counter<'type'>;
  eventLogBytes: Gauge;
  reconcileDuration: Histogram;
  diffDuration: Histogram;
  gitErrors: Counter<'code'>;
  /** Set by the rollout: hosts currently in each state. */
  hosts: Gauge<'state'>;
  applyDuration: Histogram<'outcome'>;
  checkDuration: Histogram<'check' | 'outcome'>;
}

// Git/diff work is milliseconds; apply + verify of a host spans milliseconds to a minute.
const FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SLOW = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function createMetrics(opts: { registry?: Registry; processMetrics?: boolean } = {}): PalisadeMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'palisade_' });
  const registers = [registry];
  return {
    registry,
    commitsSeen: new Counter({ name: 'palisade_commits_seen_total', help: 'Commits of the tracked branch observed by the reconciler.', registers }),
    eventsAppended: new Counter({ name: 'palisade_events_appended_total', help: 'Events durably appended to the event log, by type.', labelNames: ['type'], registers }),
    eventLogBytes: new Gauge({ name: 'palisade_eventlog_size_bytes', help: 'Bytes of acknowledged records in the event log.', registers }),
    reconcileDuration: new Histogram({ name: 'palisade_reconcile_duration_seconds', help: 'Time from noticing a new tip to its events being durable.', buckets: SLOW, registers }),
    diffDuration: new Histogram({ name: 'palisade_git_diff_duration_seconds', help: 'Time to diff two commits of the tracked sub-directory.', buckets: FAST, registers }),
    gitErrors: new Counter({ name: 'palisade_git_errors_total', help: 'Failed Git operations, by error code.', labelNames: ['code'], registers }),
    hosts: new Gauge({ name: 'palisade_hosts', help: 'Hosts by rollout state.', labelNames: ['state'], registers }),
    applyDuration: new Histogram({ name: 'palisade_apply_duration_seconds', help: 'Time to apply a ruleset on a host.', labelNames: ['outcome'], buckets: SLOW, registers }),
    checkDuration: new Histogram({ name: 'palisade_check_duration_seconds', help: 'Time of one connectivity check after an apply.', labelNames: ['check', 'outcome'], buckets: SLOW, registers }),
  };
}

/**
 * For `openFileEventStore(dir, { onAppended })`: keeps every metric current from the events
 * themselves, so what `/metrics` says and what the log says cannot disagree.
 */
export function eventLogObserver(m: PalisadeMetrics): (events: readonly PalisadeEvent[], logBytes: number) => void {
  const hostState = new Map<string, string>();
  const applyingSince = new Map<string, number>();
  return (events, logBytes) => {
    for (const e of events) {
      m.eventsAppended.inc({ type: e.type });
      if (e.type === 'CommitObserved') m.commitsSeen.inc();
      if (e.type !== 'HostTransition') continue;
      const before = hostState.get(e.host);
      if (before) m.hosts.dec({ state: before });
      m.hosts.inc({ state: e.to });
      hostState.set(e.host, e.to);
      const at = Date.parse(e.time);
      if (e.to === 'applying') applyingSince.set(e.host, at);
      if (e.from === 'applying') {
        const since = applyingSince.get(e.host);
        if (since !== undefined) m.applyDuration.observe({ outcome: e.to === 'verifying' ? 'applied' : 'failed' }, Math.max(0, at - since) / 1000);
        applyingSince.delete(e.host);
      }
      for (const c of e.checks ?? []) {
        if (c.durationMs !== undefined) m.checkDuration.observe({ check: c.name, outcome: c.ok ? 'ok' : 'failed' }, c.durationMs / 1000);
      }
    }
    m.eventLogBytes.set(logBytes);
  };
}
