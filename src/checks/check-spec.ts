import { z } from 'zod';
import { Duration } from '../rollout/duration.js';
import { DnsPacketError, encodeName } from './probes/dns-packet.js';

/**
 * A connectivity check. `vantage: controller` runs from the management network towards the
 * host (can the operator still reach it?); `vantage: host` runs from the host outwards (can it
 * still reach its store, DNS, the Git remote?). `expect: closed` proves a deny works too.
 */
/** A name the probe can put in a question; rejected here so palisade.yaml says where. */
const DnsName = z.string().superRefine((name, ctx) => {
  try {
    encodeName(name);
  } catch (e) {
    if (!(e instanceof DnsPacketError)) throw e;
    ctx.addIssue({ code: 'custom', message: e.message });
  }
});


const Port = (fallback?: number) => {
  const port = z.number({ error: 'port must be a number between 1 and 65535' }).int({ error: 'port must be a whole number between 1 and 65535' }).min(1, { error: 'port must be between 1 and 65535' }).max(65535, { error: 'port must be between 1 and 65535' });
  return fallback === undefined ? port : port.default(fallback);
};

/** The request target of `GET path HTTP/1.1`: one line, so no spaces, control characters or non-ASCII (percent-encode them). */
const HttpPath = z.string().refine((p) => /^\/[\x21-\x7e]*$/.test(p), {
  error: (iss) => `path must start with '/' and contain only visible ASCII (no spaces or control characters; percent-encode others), got ${JSON.stringify(iss.input)}`,
});

const common = {
  name: z.string().min(1, { error: 'name must not be empty' }),
  /** Address to reach; for the controller vantage the host's own address by default. */
  target: z.string().min(1).optional(),
  vantage: z.enum(['controller', 'host']).default('controller'),
  expect: z.enum(['open', 'closed']).default('open'),
  timeoutMs: z.number().int().positive().default(2000),
  /** The same, written as a duration in palisade.yaml (`timeout: 2s`). */
  timeout: Duration.optional(),
};

export const CheckSpec = z
  .discriminatedUnion('kind', [
    z.strictObject({
      ...common,
      kind: z.literal('tcp'),
      port: Port(),
      /**
       * Open when any of these answers (tried together, within one timeout); `target`/`port`
       * name the first. What the path to a replicated service needs: any one member will do.
       */
      anyOf: z.array(z.strictObject({ target: z.string().min(1), port: Port() })).min(1).optional(),
    }),
    /** The server's SSH banner arrives: more than an open port, a live sshd. */
    z.strictObject({ ...common, kind: z.literal('ssh'), port: Port(22) }),
    /** A UDP DNS query gets an answer (any rcode): type NS for the root `.`, A for any other name. */
    z.strictObject({ ...common, kind: z.literal('dns'), port: Port(53), query: DnsName.default('.') }),
    /** ICMP echo. */
    z.strictObject({ ...common, kind: z.literal('icmp') }),
    /** An HTTP GET answers with the expected status. */
    z.strictObject({
      ...common,
      kind: z.literal('http'),
      port: Port(80),
      path: HttpPath.default('/'),
      status: z.number().int().min(100).max(599).default(200),
    }),
  ])
  .transform(({ timeout, ...check }) => (timeout === undefined ? check : { ...check, timeoutMs: Math.max(1, timeout) }));
export type CheckSpec = z.output<typeof CheckSpec>;

/** The check that is always on: SSH from the management network must keep working. */
export const SSH_FAILSAFE_CHECK: CheckSpec = CheckSpec.parse({ name: 'ssh-from-management', kind: 'ssh', port: 22 });
