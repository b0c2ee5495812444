import { assign, fromCallback, fromPromise, setup, type EventObject } from 'xstate';
import type { CheckOutcome, HostOutput, HostResult, ResumableState } from '../src/eventlog/events.js';
import type { SoakEvent, SoakInput } from './soak.js';

/**
 * One host's part in a rollout of one revision. Pure definition: the effects (preflight,
 * apply, verify, restore, and the soak's check rounds, see `soakRounds`) are actors injected with
 * `.provide()`, so the machine runs the same against the kernel, the simulator and the tests.
 *
 *   queued → preflight → applying → verifying → soaking → confirmed
 *                 │          └──────────┴──────────┴──→ rollingBack → verifyingRollback → rolledBack | failed
 *                 ├→ unreachable (the host cannot be reached before any change: not the change's fault)
 *                 └→ rejected    (the ruleset failed the host's dry run, e.g. `nft -c`: nothing applied)
 */

export interface HostInput {
  host: string;
  wave: number;
  revision: string;
  /** How long the host keeps passing its checks before it is confirmed. */
  soakMs: number;
  /** Pause between check rounds while soaking. */
  soakIntervalMs: number;
  /** Restart after a crash: continue from this state instead of `queued`. */
  resumeFrom?: ResumableState;
  /** Deadline of an interrupted soak, epoch ms. */
  soakUntil?: number | null;
}

export interface HostContext extends Required<Omit<HostInput, 'resumeFrom'>> {
  resumeFrom: ResumableState | null;
  soakUntil: number | null;
  checks: CheckOutcome[];
  reason: string | null;
  rulesetHash: string | null;
  result: HostResult | null;
}

export interface CheckRound {
  ok: boolean;
  checks: CheckOutcome[];
}

export interface PreflightResult extends CheckRound {
  /** Why the host refused the ruleset in a dry run; the host is left untouched. */
  rejected?: string;
}

export interface EffectInput {
  host: string;
  revision: string;
}

/** Effects are supplied by whoever runs the machine; a missing one fails loudly. */
const notProvided = <Output>(name: string) =>
  fromPromise<Output, EffectInput>(async () => {
    throw new Error(`host machine: effect '${name}' was not provided`);
  });

const failedChecks = (checks: CheckOutcome[]) =>
  checks
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.detail}`)
    .join('; ');

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

export const hostMachine = setup({
  types: {
    input: {} as HostInput,
    context: {} as HostContext,
    events: {} as { type: 'START' } | SoakEvent,
    output: {} as HostOutput,
  },
  actors: {
    preflight: notProvided<PreflightResult>('preflight'),
    apply: notProvided<{ rulesetHash: string }>('apply'),
    verify: notProvided<CheckRound>('verify'),
    /** `note`: what the host itself said, e.g. that it had already reverted by itself. */
    restore: notProvided<{ rulesetHash: string; note?: string }>('restore'),
    soak: fromCallback<EventObject, SoakInput, SoakEvent>(() => {
      throw new Error("host machine: effect 'soak' was not provided");
    }),
  },
  delays: {
    // Deadlines are data (soakUntil), not pending timers: a machine restored after a crash
    // re-arms the remaining time. The clock is replaceable through `.provide()`.
    soakRemaining: ({ context }) => Math.max(0, (context.soakUntil ?? 0) - Date.now()),
  },
  actions: {
    startSoak: assign({ soakUntil: ({ context }) => context.soakUntil ?? Date.now() + context.soakMs }),
  },
  guards: {
    resumeAt: ({ context }, state: ResumableState) => context.resumeFrom === state,
  },
}).createMachine({
  id: 'host',
  context: ({ input }) => ({
    host: input.host,
    wave: input.wave,
    revision: input.revision,
    soakMs: input.soakMs,
    soakIntervalMs: input.soakIntervalMs,
    resumeFrom: input.resumeFrom ?? null,
    soakUntil: input.soakUntil ?? null,
    checks: [],
    reason: null,
    rulesetHash: null,
    result: null,
  }),
  initial: 'queued',
  output: ({ context }) => ({ host: context.host, result: context.result ?? 'failed', reason: context.reason, checks: context.checks }),
  states: {
    queued: {
      always: [
        { guard: { type: 'resumeAt', params: 'applying' }, target: 'applying' },
        { guard: { type: 'resumeAt', params: 'verifying' }, target: 'verifying' },
        { guard: { type: 'resumeAt', params: 'soaking' }, target: 'soaking' },
        { guard: { type: 'resumeAt', params: 'rollingBack' }, target: 'rollingBack' },
      ],
      on: { START: 'preflight' },
    },
    preflight: {
      invoke: {
        id: 'preflight',
        src: 'preflight',
        input: ({ context }) => ({ host: context.host, revision: context.revision }),
        onDone: [
          {
            guard: ({ event }) => event.output.rejected !== undefined,
            target: 'rejected',
            actions: assign({ checks: ({ event }) => event.output.checks, reason: ({ event }) => `ruleset rejected in a dry run, nothing applied: ${event.output.rejected}` }),
          },
          { guard: ({ event }) => event.output.ok, target: 'applying', actions: assign({ checks: ({ event }) => event.output.checks }) },
          {
            target: 'unreachable',
            actions: assign({
              checks: ({ event }) => event.output.checks,
              reason: ({ event }) => `baseline checks failed before any change: ${failedChecks(event.output.checks)}`,
            }),
          },
        ],
        onError: { target: 'unreachable', actions: assign({ reason: ({ event }) => `preflight failed: ${errorText(event.error)}` }) },
      },
    },
    applying: {
      invoke: {
        id: 'apply',
        src: 'apply',
        input: ({ context }) => ({ host: context.host, revision: context.revision }),
        onDone: { target: 'verifying', actions: assign({ rulesetHash: ({ event }) => event.output.rulesetHash, reason: null }) },
        // nft applies atomically, so a failed apply changed nothing; restoring is still the
        // safe, uniform path and proves the host is reachable afterwards.
        onError: { target: 'rollingBack', actions: assign({ reason: ({ event }) => `apply failed: ${errorText(event.error)}` }) },
      },
    },
    verifying: {
      invoke: {
        id: 'verify',
        src: 'verify',
        input: ({ context }) => ({ host: context.host, revision: context.revision }),
        onDone: [
          { guard: ({ event }) => event.output.ok, target: 'soaking', actions: assign({ checks: ({ event }) => event.output.checks }) },
          {
            target: 'rollingBack',
            actions: assign({
              checks: ({ event }) => event.output.checks,
              reason: ({ event }) => `checks failed after apply: ${failedChecks(event.output.checks)}`,
            }),
          },
        ],
        onError: { target: 'rollingBack', actions: assign({ reason: ({ event }) => `verify failed: ${errorText(event.error)}` }) },
      },
    },
    soaking: {
      entry: 'startSoak',
      after: { soakRemaining: 'confirmed' },
      invoke: {
        id: 'soak',
        src: 'soak',
        input: ({ context }) => ({ host: context.host, revision: context.revision, intervalMs: context.soakIntervalMs }),
        onError: { target: 'rollingBack', actions: assign({ reason: ({ event }) => `verify failed: ${errorText(event.error)}` }) },
      },
      on: {
        'SOAK.ROUND': [
          { guard: ({ event }) => event.round.ok, actions: assign({ checks: ({ event }) => event.round.checks }) },
          {
            target: 'rollingBack',
            actions: assign({
              checks: ({ event }) => event.round.checks,
              reason: ({ event }) => `checks failed during soak: ${failedChecks(event.round.checks)}`,
            }),
          },
        ],
        'SOAK.ERROR': { target: 'rollingBack', actions: assign({ reason: ({ event }) => `verify failed: ${errorText(event.error)}` }) },
      },
    },
    rollingBack: {
      invoke: {
        id: 'restore',
        src: 'restore',
        input: ({ context }) => ({ host: context.host, revision: context.revision }),
        onDone: {
          target: 'verifyingRollback',
          actions: assign({
            rulesetHash: ({ event }) => event.output.rulesetHash,
            reason: ({ context, event }) => (event.output.note ? `${context.reason}; ${event.output.note}` : context.reason),
          }),
        },
        onError: { target: 'failed', actions: assign({ reason: ({ context, event }) => `${context.reason}; restore failed: ${errorText(event.error)}` }) },
      },
    },
    verifyingRollback: {
      invoke: {
        id: 'verifyRollback',
        src: 'verify',
        input: ({ context }) => ({ host: context.host, revision: context.revision }),
        onDone: [
          { guard: ({ event }) => event.output.ok, target: 'rolledBack' },
          {
            target: 'failed',
            actions: assign({
              checks: ({ event }) => event.output.checks,
              reason: ({ context, event }) => `${context.reason}; STILL UNREACHABLE after rollback: ${failedChecks(event.output.checks)}`,
            }),
          },
        ],
        onError: { target: 'failed', actions: assign({ reason: ({ context, event }) => `${context.reason}; verify after rollback failed: ${errorText(event.error)}` }) },
      },
    },
    confirmed: { type: 'final', entry: assign({ result: 'confirmed' as const }) },
    rolledBack: { type: 'final', entry: assign({ result: 'rolledBack' as const }) },
    failed: { type: 'final', entry: assign({ result: 'failed' as const }) },
    unreachable: { type: 'final', entry: assign({ result: 'unreachable' as const }) },
    rejected: { type: 'final', entry: assign({ result: 'rejected' as const }) },
  },
});


/**
 * The host machine on a given clock: soak deadlines are computed from `now`, so tests and the
 * fleet benchmark run on a simulated clock and a restored machine re-arms the time it had left.
 */
export function hostMachineWithClock(now: () => number) {
  return hostMachine.provide({
    delays: { soakRemaining: ({ context }) => Math.max(0, (context.soakUntil ?? 0) - now()) },
    actions: { startSoak: assign({ soakUntil: ({ context }) => context.soakUntil ?? now() + context.soakMs }) },
  });
}
