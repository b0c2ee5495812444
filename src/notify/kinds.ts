/**
 * What a notification is about. Host kinds carry `host`; rollout kinds carry `outcome`.
 * `rolledBack` is both: one host rolled back, or (with `outcome`) the whole rollout.
 */
export const NOTIFY_KINDS = [
  'started',
  'confirmed',
  'rolledBack',
  'failed',
  'unreachable',
  'rejected',
  'halted',
  'completed',
  'aborted',
  'superseded',
  'drift',
] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];
