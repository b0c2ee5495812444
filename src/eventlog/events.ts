import { z } from 'zod';

/**
 * The event log's contract: every reader (projections, `palisade events`, `palisade history`,
 * the rollout on restart) parses events with these schemas. Bump `version` of an event type
 * when its payload changes incompatibly and keep reading the old one.
 */

const Envelope = {
  /** Position in the log, gap-free, starting at 1. */
  seq: z.number().int().positive(),
  /** ISO-8601 time the event was appended. */
  time: z.string(),
  version: z.literal(1),
  /** Commit id the event belongs to. */
  revision: z.string(),
  /** Idempotency key: redoing work after a crash never appends the same key twice. */
  key: z.string().min(1),
};

export const ModelErrorRecord = z.object({
  code: z.string(),
  file: z.string(),
  line: z.number().int(),
  col: z.number().int(),
  kind: z.string().optional(),
  name: z.string().optional(),
  field: z.string().optional(),
  message: z.string(),
});
export type ModelErrorRecord = z.infer<typeof ModelErrorRecord>;

export const ResourceChange = z.object({
  /** `Kind/name`. */
  key: z.string(),
  change: z.enum(['added', 'removed', 'modified']),
  file: z.string().optional(),
  /** The validated resource (normalised form) for added/modified, so replay needs no Git. */
  resource: z.unknown().optional(),
  source: z.object({ file: z.string(), line: z.number(), col: z.number() }).optional(),
});
export type ResourceChange = z.infer<typeof ResourceChange>;

export const CheckOutcome = z.object({
  name: z.string(),
  ok: z.boolean(),
  detail: z.string(),
  durationMs: z.number().optional(),
  /** Already failing in the baseline before the change: reported, never blamed on it. */
  preexisting: z.boolean().optional(),
});
export type CheckOutcome = z.infer<typeof CheckOutcome>;

/*
 * Results every stage speaks about: the host machine produces them, the rollout runner records
 * them, projections, the CLI, the status API and notifiers read them. They live here, with the
 * event schema, so no stage imports them from a later one.
 */

/** Where a host's part in a rollout ends. */
export const HostResult = z.enum(['confirmed', 'rolledBack', 'failed', 'unreachable', 'rejected']);
export type HostResult = z.infer<typeof HostResult>;
const HOST_RESULTS: ReadonlySet<string> = new Set(HostResult.options);
/** True when a host state is final for its rollout. */
export const isHostResult = (state: string): state is HostResult => HOST_RESULTS.has(state);

/** Host states a restarted rollout can pick a host up in. */
export const ResumableState = z.enum(['applying', 'verifying', 'soaking', 'rollingBack']);
export type ResumableState = z.infer<typeof ResumableState>;

export const HostOutput = z.object({
  host: z.string(),
  result: HostResult,
  reason: z.string().nullable(),
  checks: z.array(CheckOutcome),
});
export type HostOutput = z.infer<typeof HostOutput>;

/** A wave of a rollout: its name and hosts, in the order they are started. */
export const Wave = z.object({ name: z.string(), hosts: z.array(z.string()) });
export type Wave = z.infer<typeof Wave>;

/** How the rollout of one revision ended. */
export const RolloutOutcome = z.enum(['completed', 'halted', 'rolledBack', 'aborted', 'superseded']);
export type RolloutOutcome = z.infer<typeof RolloutOutcome>;

/** How a commit ended: its rollout's outcome, or rejected before any rollout. */
export const CommitOutcome = z.enum([...RolloutOutcome.options, 'rejected']);
export type CommitOutcome = z.infer<typeof CommitOutcome>;

export const CommitResult = z.object({ revision: z.string(), outcome: CommitOutcome, failedHosts: z.array(z.string()) });
export type CommitResult = z.infer<typeof CommitResult>;

/** An operator's request to the running rollout. */
export const ControlAction = z.enum(['pause', 'resume', 'abort', 'retry']);
export type ControlAction = z.infer<typeof ControlAction>;

export const CommitObserved = z.object({
  ...Envelope,
  type: z.literal('CommitObserved'),
  parent: z.string().nullable(),
  author: z.string(),
  message: z.string(),
  committedAt: z.string(),
});

export const ResourcesChanged = z.object({
  ...Envelope,
  type: z.literal('ResourcesChanged'),
  /** The revision the changes are relative to (null: from nothing). */
  base: z.string().nullable(),
  changes: z.array(ResourceChange),
});

export const CommitRejected = z.object({
  ...Envelope,
  type: z.literal('CommitRejected'),
  errors: z.array(ModelErrorRecord),
});

export const HistoryRewritten = z.object({
  ...Envelope,
  type: z.literal('HistoryRewritten'),
  previousHead: z.string(),
  newHead: z.string(),
});

export const RolloutStarted = z.object({
  ...Envelope,
  type: z.literal('RolloutStarted'),
  waves: z.array(Wave),
});

export const HostTransition = z.object({
  ...Envelope,
  type: z.literal('HostTransition'),
  host: z.string(),
  wave: z.number().int().nonnegative(),
  from: z.string(),
  to: z.string(),
  reason: z.string().optional(),
  checks: z.array(CheckOutcome).optional(),
  /** Hash of the ruleset this transition applied or restored. */
  rulesetHash: z.string().optional(),
  /** Entering `soaking`: when the soak ends (epoch ms), so a restarted reconciler resumes the remaining time. */
  soakUntil: z.number().optional(),
});

/**
 * A new run of a host's machine begins, at `queued`, for a host the log already has in `from`:
 * the reconciler restarted (or a new leader took over) with the host mid-step, or a confirmed
 * host is undone because a later wave failed. Every `HostTransition` after it is an edge of the
 * host machine again, starting from `queued`, so the path in the log reads as it happened.
 */
export const HostResumed = z.object({
  ...Envelope,
  type: z.literal('HostResumed'),
  host: z.string(),
  wave: z.number().int().nonnegative(),
  /** The host's state in the log when the new run began. */
  from: z.string(),
  cause: z.enum(['restart', 'undo']),
  reason: z.string().optional(),
});

export const RolloutFinished = z.object({
  ...Envelope,
  type: z.literal('RolloutFinished'),
  outcome: RolloutOutcome,
  failedHosts: z.array(z.string()),
  durationMs: z.number().nonnegative(),
});

/** An operator's request, recorded so the log explains why a rollout paused, stopped or ran again. */
export const RolloutControl = z.object({
  ...Envelope,
  type: z.literal('RolloutControl'),
  action: ControlAction,
  /** Who or what asked (CLI user, HTTP client address). */
  by: z.string(),
});

/** A host's `table inet palisade` no longer matched what Palisade applied (a hand edit, another tool). */
export const DriftDetected = z.object({
  ...Envelope,
  type: z.literal('DriftDetected'),
  host: z.string(),
  /** The first difference found, e.g. `chain filter-input has different rules`. */
  details: z.string(),
  /** Whether the desired ruleset was put back (and read back intact). */
  restored: z.boolean(),
});

export const PalisadeEvent = z.discriminatedUnion('type', [
  CommitObserved,
  ResourcesChanged,
  CommitRejected,
  HistoryRewritten,
  RolloutStarted,
  HostTransition,
  HostResumed,
  RolloutFinished,
  RolloutControl,
  DriftDetected,
]);
export type PalisadeEvent = z.infer<typeof PalisadeEvent>;
export type EventType = PalisadeEvent['type'];
export type EventOf<T extends EventType> = Extract<PalisadeEvent, { type: T }>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What a writer hands to the store: the store assigns `seq` and `time`. */
export type EventDraft = DistributiveOmit<PalisadeEvent, 'seq' | 'time' | 'version'>;
