import type { CheckOutcome } from '../eventlog/events.js';
import type { CheckSpec } from './check-spec.js';
import type { ProbeResult } from './probes/probe-result.js';
import type { CheckRound } from '../../machines/host.js';

export interface CheckPolicy {
  /** Attempts per check within one verify round, so one lost packet does not roll a host back. */
  attempts: number;
  /** Pause between attempts. */
  retryDelayMs: number;
}

/** Runs every check (retrying failures) and reports the round as one result. */
export async function runChecks(
  checks: readonly CheckSpec[],
  runOne: (check: CheckSpec) => Promise<CheckOutcome>,
  policy: CheckPolicy,
): Promise<CheckRound> {
  const outcomes = await Promise.all(
    checks.map(async (check) => {
      let outcome = await runOne(check);
      for (let attempt = 1; !outcome.ok && attempt < policy.attempts; attempt++) {
        await new Promise((r) => setTimeout(r, policy.retryDelayMs));
        outcome = await runOne(check);
      }
      return outcome;
    }),
  );
  return { ok: outcomes.every((o) => o.ok), checks: outcomes };
}

/** `tcp/22`, `icmp`, `http/80 GET /`: how a check is named in details and logs. */
export function describeCheck(check: CheckSpec): string {
  switch (check.kind) {
    case 'icmp':
      return 'icmp echo';
    case 'http':
      return `http/${check.port} GET ${check.path}`;
    case 'dns':
      return `dns/${check.port} ${check.query}`;
    case 'tcp':
      return check.anyOf ? `tcp to any of ${check.anyOf.map((e) => `${e.target}:${e.port}`).join(', ')}` : `tcp/${check.port}`;
    default:
      return `${check.kind}/${check.port}`;
  }
}

/**
 * Turns a probe result into the outcome a check expects (`closed` inverts). A probe that could not
 * run fails either way: a missing tool must not pass for a working deny.
 */
export function judge(check: CheckSpec, probe: ProbeResult, where: string): CheckOutcome {
  if (probe.inconclusive) {
    return { name: check.name, ok: false, detail: `${describeCheck(check)} ${where}: could not probe (${probe.inconclusive}: ${probe.error ?? 'no reason given'})`, durationMs: probe.ms };
  }
  const ok = check.expect === 'open' ? probe.open : !probe.open;
  const seen = probe.open ? 'open' : `closed (${probe.error ?? 'no answer'})`;
  return { name: check.name, ok, detail: `${describeCheck(check)} ${where}: ${seen}, expected ${check.expect}`, durationMs: probe.ms };
}
