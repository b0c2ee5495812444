import { HostResult, RolloutOutcome } from '../eventlog/events.js';

/**
 * What a notification is about: a rollout starting, a host's result, a rollout's outcome, or
 * drift. `rolledBack` is both a host result and an outcome: with `host` one host rolled back,
 * with `outcome` the whole rollout did.
 */
export const NOTIFY_KINDS = ['started', ...new Set([...HostResult.options, ...RolloutOutcome.options]), 'drift'] as const;
export type NotifyKind = 'started' | HostResult | RolloutOutcome | 'drift';
