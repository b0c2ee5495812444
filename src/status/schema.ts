import { z } from 'zod';
import { CheckOutcome, CommitOutcome, ControlAction, ModelErrorRecord, Wave } from '../eventlog/events.js';

/**
 * The status model's pieces and the API's answers as zod schemas: the TypeScript types come from
 * here, and so does docs/status-api.schema.json (`statusApiJsonSchema`; a test keeps the file equal).
 */

const FailedCheck = z.object({ name: z.string(), detail: z.string() });

export const HostInRevision = z.object({
  state: z.string().meta({ description: 'queued, preflight, applying, verifying, soaking, confirmed, rollingBack, verifyingRollback, rolledBack, failed, unreachable, rejected' }),
  wave: z.number().int().nonnegative(),
  since: z.string().meta({ description: 'when the host entered `state` (ISO-8601)' }),
  reason: z.string().optional(),
  checks: z.array(CheckOutcome).optional().meta({ description: 'the last check results recorded' }),
  soakUntil: z.number().optional().meta({ description: 'while soaking: when the soak ends (epoch ms)' }),
  failedChecks: z.array(FailedCheck).optional().meta({ description: 'the checks whose failure took the host off its way to confirmed' }),
});
export type HostInRevision = z.infer<typeof HostInRevision>;

export const HostStatus = HostInRevision.extend({
  name: z.string(),
  revision: z.string().nullable().meta({ description: 'the revision whose ruleset the host holds (last confirmed; a rollback returns to the one before); null before any' }),
  stateRevision: z.string().meta({ description: 'the revision `state` belongs to' }),
  previous: z.string().nullable().meta({ description: 'what the host held when the rollout of stateRevision started changing it' }),
  drift: z.object({ time: z.string(), details: z.string(), restored: z.boolean() }).optional(),
});
export type HostStatus = z.infer<typeof HostStatus>;

export const RevisionPhase = z.enum(['observed', 'rollingOut', 'paused', ...CommitOutcome.options]);
export type RevisionPhase = z.infer<typeof RevisionPhase>;

const Control = z.object({ action: ControlAction, by: z.string(), time: z.string() });

export const RevisionStatus = z.object({
  revision: z.string(),
  author: z.string().optional(),
  message: z.string().optional(),
  committedAt: z.string().optional(),
  observedAt: z.string().optional(),
  outcome: CommitOutcome.nullable(),
  errors: z.array(ModelErrorRecord).optional(),
  attempt: z.number().int().nonnegative(),
  waves: z.array(Wave),
  hosts: z.record(z.string(), HostInRevision),
  failedHosts: z.array(z.string()),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  durationMs: z.number().optional(),
  control: Control.optional(),
});
export type RevisionStatus = z.infer<typeof RevisionStatus>;

export const ConditionType = z.enum(['Ready', 'Progressing', 'Degraded', 'Stalled']);
export type ConditionType = z.infer<typeof ConditionType>;

export const Condition = z
  .object({ type: ConditionType, status: z.enum(['True', 'False']), reason: z.string(), message: z.string(), lastTransitionTime: z.string() })
  .meta({ description: 'kstatus style: Ready is good when True; Progressing, Degraded and Stalled are abnormal when True' });
export type Condition = z.infer<typeof Condition>;

export const HostView = HostStatus.extend({
  current: HostInRevision.nullable().meta({ description: "the host's place in the current revision; null when it has not started there" }),
  conditions: z.array(Condition),
});
export type HostView = z.infer<typeof HostView>;

export const WaveView = z.object({
  name: z.string(),
  index: z.number().int().nonnegative(),
  state: z.enum(['pending', 'running', 'done', 'failed']),
  hosts: z.array(HostInRevision.extend({ name: z.string() })),
});
export type WaveView = z.infer<typeof WaveView>;

export const FailingHost = z.object({ host: z.string(), state: z.string(), reason: z.string().nullable(), checks: z.array(FailedCheck) });
export type FailingHost = z.infer<typeof FailingHost>;

export const RevisionView = z
  .object({
    revision: z.string(),
    author: z.string().nullable(),
    message: z.string().nullable(),
    committedAt: z.string().nullable(),
    observedAt: z.string().nullable(),
    phase: RevisionPhase,
    outcome: CommitOutcome.nullable(),
    attempt: z.number().int().nonnegative(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    durationMs: z.number().nullable(),
    waves: z.array(WaveView),
    failing: z.array(FailingHost).meta({ description: 'hosts that ended other than confirmed, in wave order, and why' }),
    errors: z.array(ModelErrorRecord).meta({ description: 'a rejected commit: every validation error' }),
    control: Control.nullable(),
  })
  .meta({ title: 'GET /api/v1/revisions/{revision}' });
export type RevisionView = z.infer<typeof RevisionView>;

export const RevisionSummary = z.object({
  revision: z.string(),
  message: z.string().nullable(),
  author: z.string().nullable(),
  observedAt: z.string().nullable(),
  phase: RevisionPhase,
  durationMs: z.number().nullable(),
  failedHosts: z.array(z.string()),
});
export type RevisionSummary = z.infer<typeof RevisionSummary>;

export const StatusView = z
  .object({
    apiVersion: z.literal('palisade/v1'),
    generatedAt: z.string(),
    now: z.number().meta({ description: "epoch ms when generated: soak time left is soakUntil - now, on the server's clock" }),
    lastSeq: z.number().int().nonnegative().meta({ description: 'the last event folded in: resume GET /api/v1/events from here' }),
    current: RevisionView.nullable().meta({ description: 'the revision being rolled out, or the last one that was' }),
    latest: RevisionSummary.nullable().meta({ description: 'the newest commit seen (it may be rejected, or waiting)' }),
    hosts: z.array(HostView),
    revisions: z.array(RevisionSummary).meta({ description: 'the 20 newest, newest first' }),
  })
  .meta({ title: 'GET /api/v1/status' });
export type StatusView = z.infer<typeof StatusView>;

/** docs/status-api.schema.json: both answers, as JSON Schema (draft 2020-12). */
export function statusApiJsonSchema(): unknown {
  return {
    ...(z.toJSONSchema(z.object({ status: StatusView, revision: RevisionView }), { io: 'output' }) as object),
    title: 'Palisade status API v1',
    description: "GET /api/v1/status answers with properties.status, GET /api/v1/revisions/{revision} with properties.revision. Generated from src/status/schema.ts.",
  };
}
