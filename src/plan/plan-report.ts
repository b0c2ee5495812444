import { z } from 'zod';
import { ModelErrorRecord } from '../eventlog/events.js';

/**
 * The plan as data: what `palisade plan --format json` prints and every other format renders.
 * This schema is the documented contract (README, "palisade plan"); `planJsonSchema()` is its JSON Schema.
 */

export const PLAN_FORMAT = 'palisade.plan/v2';

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

export const VerdictName = z.enum(['allow', 'deny', 'no-policy']);

const Range = z.tuple([z.number().int(), z.number().int()]);

/**
 * One box of the exact difference: every packet in it (all the listed protocols, addresses and
 * ports, not a sample) gets `before` under the base and `after` under the head.
 */
export const FlowChange = z.object({
  direction: z.enum(['ingress', 'egress', 'forward']),
  /** The interface (`*`: any interface the repository does not name; `cali*`: workload interfaces). */
  interface: z.string(),
  /** Forwarded packets: the interface they leave by. */
  forwardTo: z.string().optional(),
  family: z.union([z.literal(4), z.literal(6)]),
  before: VerdictName,
  after: VerdictName,
  /** What decides, as `palisade explain` words it: `policy k8s-worker, end of tier default`. */
  beforeReason: z.string(),
  afterReason: z.string(),
  /** `opened`: denied before; `closed`: denied after; `changed`: allowed ↔ not policed. */
  change: z.enum(['opened', 'closed', 'changed']),
  /** `tcp`, `udp`, a number, `any` or `any except …`; `protocols` has the exact numbers. */
  protocol: z.string(),
  protocols: z.array(Range),
  /** Source networks; with `notSrc`: those except these. */
  src: z.array(z.string()),
  notSrc: z.array(z.string()).optional(),
  dst: z.array(z.string()),
  notDst: z.array(z.string()).optional(),
  /** Port ranges (TCP, UDP, SCTP only). */
  srcPorts: z.array(Range).optional(),
  dstPorts: z.array(Range).optional(),
  icmpTypes: z.array(Range).optional(),
  icmpCodes: z.array(Range).optional(),
  /** The rule, policy, host endpoint or failsafe list that makes the difference. */
  at: Location.optional(),
  /** `node-a, eth0 ingress tcp/22 from 0.0.0.0/0 except 198.18.0.0/24: allow (…) → deny (…)`. */
  text: z.string(),
});
export type FlowChange = z.infer<typeof FlowChange>;

export const Danger = z.object({
  host: z.string(),
  /** The check (declared in palisade.yaml, or the always-on `ssh-from-management`) that would fail. */
  check: z.string(),
  why: z.string(),
  /** The part of the check's path that changes (a sub-box of one of the host's changes). */
  change: FlowChange,
});
export type Danger = z.infer<typeof Danger>;

/** A concrete packet, as `palisade explain` takes it. */
export const SamplePacket = z.object({
  iface: z.string(),
  direction: z.enum(['ingress', 'egress']),
  forwardTo: z.string().optional(),
  proto: z.union([z.number(), z.string()]),
  src: z.string(),
  dst: z.string(),
  sport: z.number().int().optional(),
  dport: z.number().int().optional(),
  icmpType: z.number().int().optional(),
  icmpCode: z.number().int().optional(),
});
export type SamplePacket = z.infer<typeof SamplePacket>;

export const IntentResult = z.object({
  intent: z.string(),
  host: z.string(),
  expect: z.enum(['allow', 'deny']),
  /** Proven over the whole box on the head revision. */
  holds: z.boolean(),
  /** The same proof on the base revision (`null`: the host had no program there). */
  heldBefore: z.boolean().nullable(),
  /** When it does not hold: one packet of the box that gets the wrong verdict, and why. */
  counterexample: z.object({ packet: SamplePacket, verdict: VerdictName, reason: z.string(), at: Location.optional() }).optional(),
  /** The intent in palisade.yaml. */
  at: Location.optional(),
});
export type IntentResult = z.infer<typeof IntentResult>;

export const LINT_CODES = [
  'failsafe-port-restricted',
  'failsafe-emptied-without-ssh',
  'host-endpoint-unprotected',
  'host-endpoint-without-ips-selected',
  'policy-selects-nothing',
  'rule-selector-empty',
  'rule-unreachable',
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
  /** Always true: no flow outside `changes` changes its verdict on this host. */
  complete: z.literal(true),
  change: z.enum(['added', 'removed', 'changed']),
  endpoints: z.object({ before: z.array(z.string()), after: z.array(z.string()) }),
  policies: z.object({ before: z.array(z.string()), after: z.array(z.string()) }),
  /** Unified diff of the rendered nftables ruleset, base → head. */
  rulesetDiff: z.string(),
  opened: z.number().int(),
  closed: z.number().int(),
  /** The exact difference, as disjoint boxes. */
  changes: z.array(FlowChange),
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
  /**
   * `invalid`: the head does not validate (exit 1); `violated`: an intent does not hold (exit 2);
   * `dangerous`: a check would lose its path (exit 2 unless --allow-danger).
   */
  outcome: z.enum(['fine', 'invalid', 'violated', 'dangerous']),
  errors: z.array(Problem),
  warnings: z.array(Problem),
  summary: z.object({
    resourcesChanged: z.number().int(),
    hostsAffected: z.number().int(),
    /** Boxes of the exact difference that open (denied before) and close (denied after). */
    connectionsOpened: z.number().int(),
    connectionsClosed: z.number().int(),
    /** Every box of the exact difference, on every host. */
    flowsChanged: z.number().int(),
    dangers: z.number().int(),
    intentsViolated: z.number().int(),
    lints: z.number().int(),
    newLints: z.number().int(),
  }),
  resources: z.array(ResourceChange),
  hosts: z.array(HostPlan),
  dangers: z.array(Danger),
  intents: z.array(IntentResult),
  lints: z.array(Lint),
  rollout: z.object({ waves: z.array(WavePreview) }).nullable(),
});
export type PlanReport = z.infer<typeof PlanReport>;

/** The JSON Schema of `palisade plan --format json`. */
export function planJsonSchema(): unknown {
  return z.toJSONSchema(PlanReport, { target: 'draft-2020-12', io: 'output' });
}
