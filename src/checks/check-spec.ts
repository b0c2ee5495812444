import { z } from 'zod';

/**
 * A connectivity check. `vantage: controller` runs from the management network towards the
 * host (can the operator still reach it?); `vantage: host` runs from the host outwards (can it
 * still reach its store, DNS, the Git remote?). `expect: closed` proves a deny works too.
 */
export const CheckSpec = z.strictObject({
  name: z.string().min(1),
  kind: z.literal('tcp'),
  port: z.number().int().min(1).max(65535),
  /** Address to reach; for the controller vantage the host's own address by default. */
  target: z.string().optional(),
  vantage: z.enum(['controller', 'host']).default('controller'),
  expect: z.enum(['open', 'closed']).default('open'),
  timeoutMs: z.number().int().positive().default(2000),
});
export type CheckSpec = z.output<typeof CheckSpec>;

/** The check that is always on: SSH from the management network must keep working. */
export const SSH_FAILSAFE_CHECK: CheckSpec = CheckSpec.parse({ name: 'ssh-from-management', kind: 'tcp', port: 22 });
