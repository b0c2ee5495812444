import { z } from 'zod';
import { ModelErrorRecord } from '../eventlog/events.js';

/**
 * The plan as data: what `palisade plan --format json` prints and every other format renders.
 * This schema is the documented contract (README, "palisade plan"); `planJsonSchema()` is its JSON Schema.
 */

export const PLAN_FORMAT = 'palisade.plan/v1';

export const Location = z.object({ file: z.string(), line: z.number().int(), col: z.number().int() });
export type Location = z.infer<typeof Location>;

/** A validation error or warning of a revision, as `palisade validate` reports it. */
export const Problem = ModelErrorRecord;
export type Problem = z.infer<typeof Problem>;

export const FieldChange = z.object({
  /** Dotted path inside the resource, e.g. `spec.ingress[0].destination.ports`. */
  path: z.string(),
  before: z.unknown().optional(),
  after: z.unknown().optional(),
});
export type FieldChange = z.infer<typeof FieldChange>;

export const ResourceChange = z.object({
  kind: z.string(),
  name: z.string(),
  change: z.enum(['added', 'removed', 'changed']),
  /** Where the resource is in the revision that has it (head, or base when removed). */
  at: Location,
  /** Empty for added and removed resources. */
  fields: z.array(FieldChange),
});
export type ResourceChange = z.infer<typeof ResourceChange>;

export const Verdict = z.object({
  verdict: z.enum(['allow', 'deny', 'no-policy']),
  /** What decided, as `palisade explain` says it: `deny (policy k8s-worker, end of tier default)`. */
  reason: z.string(),
});
export type Verdict = z.infer<typeof Verdict>;

export const Direction = z.enum(['ingress', 'egress']);

export const ReachabilityChange = z.object({
  host: z.string(),
  iface: z.string(),
  direction: Direction,
  /** `tcp`, `udp`, `icmp`, … or a protocol number. */
  protocol: z.string(),
  port: z.number().int().optional(),
  icmpType: z.number().int().optional(),
  /** The remote side: a net, a GlobalNetworkSet, another host or `0.0.0.0/0`. */
  peer: z.string(),
  /** The address the simulator used for the peer. */
  peerAddress: z.string(),
  /** Other peers no rule tells apart from `peer`: the same change holds for them. */
  equivalentPeers: z.array(z.string()),
  change: z.enum(['opened', 'closed']),
  before: Verdict,
  after: Verdict,
  /** The policy rule, policy, host endpoint or failsafe list that makes the difference, when known. */
  at: Location.optional(),
  /** One line: `node-b eth0 ingress tcp/22 from 0.0.0.0/0: allow (…) → deny (…)`. */
  text: z.string(),
});
export type ReachabilityChange = z.infer<typeof ReachabilityChange>;

export const Danger = z.object({
  host: z.string(),
  /** The check (declared in palisade.yaml, or the always-on `ssh-from-management`) that would fail. */
  check: z.string(),
  why: z.string(),
  change: ReachabilityChange,
});
export type Danger = z.infer<typeof Danger>;

export const LINT_CODES = [
  'failsafe-port-restricted',
  'failsafe-emptied-without-ssh',
  'host-endpoint-unprotected',
  'host-endpoint-without-ips-selected',
  'policy-selects-nothing',
  'rule-selector-empty',
  'rule-shadowed',
  'order-tie',
  'network-policy-in-host-repo',
] as const;
export const LintCode = z.enum(LINT_CODES);
export type LintCode = z.infer<typeof LintCode>;

export const Lint = Location.extend({
  code: LintCode,
  kind: z.string(),
  name: z.string(),
  field: z.string().optional(),
  message: z.string(),
  /** Why it matters, in one sentence. */
  why: z.string(),
  /** What to change. */
  fix: z.string(),
  /** Not reported for the base revision: this pull request introduces it. */
  new: z.boolean(),
});
export type Lint = z.infer<typeof Lint>;

export const HostPlan = z.object({
  host: z.string(),
  change: z.enum(['added', 'removed', 'changed']),
  endpoints: z.object({ before: z.array(z.string()), after: z.array(z.string()) }),
  policies: z.object({ before: z.array(z.string()), after: z.array(z.string()) }),
  /** Unified diff of the rendered nftables ruleset, base → head. */
  rulesetDiff: z.string(),
  opened: z.number().int(),
  closed: z.number().int(),
});
export type HostPlan = z.infer<typeof HostPlan>;

export const WavePreview = z.object({
  name: z.string(),
  hosts: z.array(z.string()),
  /** The hosts of this wave whose ruleset changes. */
  affected: z.array(z.string()),
});
export type WavePreview = z.infer<typeof WavePreview>;

export const RevisionRef = z.object({ ref: z.string(), commit: z.string().optional() });

export const PlanReport = z.object({
  format: z.literal(PLAN_FORMAT),
  base: RevisionRef,
  head: RevisionRef,
  /** `invalid`: the head does not validate (exit 1); `dangerous`: a check would lose its path (exit 2). */
  outcome: z.enum(['fine', 'invalid', 'dangerous']),
  errors: z.array(Problem),
  warnings: z.array(Problem),
  summary: z.object({
    resourcesChanged: z.number().int(),
    hostsAffected: z.number().int(),
    connectionsOpened: z.number().int(),
    connectionsClosed: z.number().int(),
    dangers: z.number().int(),
    lints: z.number().int(),
    newLints: z.number().int(),
    /** Simulated packets (both revisions); how thorough the reachability section is. */
    probes: z.number().int(),
  }),
  resources: z.array(ResourceChange),
  hosts: z.array(HostPlan),
  reachability: z.array(ReachabilityChange),
  dangers: z.array(Danger),
  lints: z.array(Lint),
  rollout: z.object({ waves: z.array(WavePreview) }).nullable(),
});
export type PlanReport = z.infer<typeof PlanReport>;

/** The JSON Schema of `palisade plan --format json`. */
export function planJsonSchema(): unknown {
  return z.toJSONSchema(PlanReport, { target: 'draft-2020-12', io: 'output' });
}
