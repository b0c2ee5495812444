import { z } from 'zod';
import { CheckOutcome } from '../eventlog/events.js';

/**
 * What the reconciler and a host agent exchange through etcd (`/palisade/v1/hosts/<host>/…`,
 * see src/etcd/keys.ts). A desired write's etcd mod revision is its *generation*: unique,
 * increasing, and what confirmations and statuses refer to.
 */

/** Where a ruleset's text lives: `/palisade/v1/rulesets/<hash>/<part>`; `null` = no Palisade table. */
export const RulesetRef = z.object({ hash: z.string().regex(/^[0-9a-f]{64}$/), parts: z.number().int().positive() }).nullable();
export type RulesetRef = z.infer<typeof RulesetRef>;

export const Desired = z.object({
  /** `apply`: commit-confirmed, reverted unless confirmed in time. `restore`: a rollback target, good at once. */
  kind: z.enum(['apply', 'restore']),
  /** What this belongs to, for the agent's log (a Git revision, or the reconciler's note). */
  label: z.string().default(''),
  ruleset: RulesetRef,
  /** How long the agent waits for a confirmation before reverting by itself. */
  confirmMs: z.number().int().positive(),
  /** Host-vantage checks the agent runs after the apply; a failure reverts at once. */
  checks: z.array(z.unknown()).default([]),
});
export type Desired = z.infer<typeof Desired>;

export const Confirm = z.object({ generation: z.string() });
export type Confirm = z.infer<typeof Confirm>;

export const AgentStatus = z.object({
  /** The desired generation this status is about (null before the agent handled any). */
  generation: z.string().nullable(),
  /**
   * pending: applied, waiting for confirmation · confirmed: applied and confirmed (or a restore)
   * · reverted: the agent put the last good ruleset back · failed: nft refused it, nothing changed
   * · idle: started, nothing to do yet.
   */
  state: z.enum(['idle', 'pending', 'confirmed', 'reverted', 'failed']),
  /** What the table holds now, stored in `/rulesets/` by content hash (null: no table). */
  ruleset: RulesetRef,
  reason: z.string().optional(),
  checks: z.array(CheckOutcome).optional(),
  time: z.string(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

export const Facts = z.object({ interfaces: z.array(z.object({ name: z.string(), addresses: z.array(z.string()) })), agent: z.string() });
export type Facts = z.infer<typeof Facts>;
