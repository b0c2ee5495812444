import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CommitOutcome } from './eventlog/events.js';
import { DURATION_BUCKETS, type HistogramCounts, type StatusModel } from './status/model.js';

/** Every Prometheus metric Palisade exposes, created once per process on one registry. */
export interface PalisadeMetrics {
  registry: Registry;
  /** Measured by this process (not in the log): they start empty after a restart. */
  reconcileDuration: Histogram;
  diffDuration: Histogram;
  gitErrors: Counter<'code'>;
  /**
   * From now on, the metrics that describe the log (commits, events, hosts, rollouts, rollbacks,
   * drift, apply and check times) are read from this model at every scrape — so a restarted
   * reconciler, which rebuilds the model from the log, reports exactly what it reported before.
   */
  readModel(model: () => StatusModel, logBytes?: () => number | null): void;
}

// Git/diff work is milliseconds; a reconcile pass can take longer.
const FAST = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Host states in the order of the host machine, reported even when no host is in them. */
const HOST_STATES = ['queued', 'preflight', 'applying', 'verifying', 'soaking', 'confirmed', 'rollingBack', 'verifyingRollback', 'rolledBack', 'failed', 'unreachable', 'rejected'];

type Labels = Record<string, string>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}

/** A metric whose samples are computed from the model when scraped (prom-client's metric interface). */
function modelMetric(registry: Registry, name: string, help: string, type: 'counter' | 'gauge' | 'histogram', samples: () => Sample[]): void {
  registry.registerMetric({
    name,
    help,
    type,
    get: async () => ({ name, help, type, values: samples(), aggregator: 'sum' }),
  } as unknown as Parameters<Registry['registerMetric']>[0]);
}

function histogramSamples(name: string, table: Record<string, HistogramCounts>, labelsOf: (key: string) => Labels): Sample[] {
  return Object.entries(table).flatMap(([key, h]) => {
    const labels = labelsOf(key);
    return [
      ...DURATION_BUCKETS.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: h.counts[i]! })),
      { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count },
      { metricName: `${name}_sum`, labels, value: h.sum },
      { metricName: `${name}_count`, labels, value: h.count },
    ];
  });
}

export function createMetrics(opts: { registry?: Registry; processMetrics?: boolean } = {}): PalisadeMetrics {
  const registry = opts.registry ?? new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'palisade_' });
  const registers = [registry];
  let model: (() => StatusModel) | null = null;
  let logBytes: (() => number | null) | null = null;
  const from = (f: (m: StatusModel) => Sample[]) => () => (model ? f(model()) : []);

  modelMetric(registry, 'palisade_commits_seen_total', 'Commits of the tracked branch observed by the reconciler.', 'counter', from((m) => [{ labels: {}, value: m.counters.commits }]));
  modelMetric(registry, 'palisade_events_appended_total', 'Events in the event log, by type.', 'counter', from((m) => Object.entries(m.counters.events).map(([type, value]) => ({ labels: { type }, value: value! }))));
  modelMetric(registry, 'palisade_eventlog_size_bytes', 'Bytes of acknowledged records in the event log (embedded store).', 'gauge', () => {
    const bytes = logBytes?.() ?? null;
    return bytes === null ? [] : [{ labels: {}, value: bytes }];
  });
  modelMetric(registry, 'palisade_hosts', 'Hosts by the state of their latest rollout step.', 'gauge', from((m) => {
    const count = new Map(HOST_STATES.map((s) => [s, 0]));
    for (const h of Object.values(m.hosts)) count.set(h.state, (count.get(h.state) ?? 0) + 1);
    return [...count].map(([state, value]) => ({ labels: { state }, value }));
  }));
  modelMetric(registry, 'palisade_host_info', 'One series per host: the revision it holds (none before any) and its state.', 'gauge', from((m) =>
    Object.values(m.hosts).map((h) => ({ labels: { host: h.name, revision: h.revision ?? 'none', state: h.state }, value: 1 })),
  ));
  modelMetric(registry, 'palisade_rollouts_total', 'Finished rollouts by outcome; a rejected commit counts as rejected.', 'counter', from((m) =>
    CommitOutcome.options.map((outcome) => ({ labels: { outcome }, value: m.counters.rollouts[outcome] ?? 0 })),
  ));
  modelMetric(registry, 'palisade_host_rollbacks_total', 'Host rollbacks started, undoing a confirmed host included.', 'counter', from((m) => [{ labels: {}, value: m.counters.hostRollbacks }]));
  modelMetric(registry, 'palisade_drift_detected_total', "Hosts' tables found changed outside Palisade.", 'counter', from((m) => [{ labels: {}, value: m.counters.drift }]));
  modelMetric(registry, 'palisade_apply_duration_seconds', 'Time to apply a ruleset on a host.', 'histogram', from((m) => histogramSamples('palisade_apply_duration_seconds', m.durations.apply, (outcome) => ({ outcome }))));
  modelMetric(registry, 'palisade_check_duration_seconds', 'Time of one connectivity check.', 'histogram', from((m) =>
    histogramSamples('palisade_check_duration_seconds', m.durations.check, (key) => {
      const i = key.lastIndexOf(' ');
      return { check: key.slice(0, i), outcome: key.slice(i + 1) };
    }),
  ));

  return {
    registry,
    reconcileDuration: new Histogram({ name: 'palisade_reconcile_duration_seconds', help: 'Time from noticing a new tip to its events being durable.', buckets: DURATION_BUCKETS, registers }),
    diffDuration: new Histogram({ name: 'palisade_git_diff_duration_seconds', help: 'Time to diff two commits of the tracked sub-directory.', buckets: FAST, registers }),
    gitErrors: new Counter({ name: 'palisade_git_errors_total', help: 'Failed Git operations, by error code.', labelNames: ['code'], registers }),
    readModel: (m, bytes) => {
      model = m;
      logBytes = bytes ?? null;
    },
  };
}
