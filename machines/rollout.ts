import { assign, enqueueActions, setup } from 'xstate';
import { hostMachine, type HostOutput, type ResumableState } from './host.js';

/**
 * The rollout of one revision: waves in order (the first is the canary), hosts of a wave run
 * concurrently up to `concurrency`, and a wave with more than `maxFailures` failed hosts halts
 * the rollout — the waves already done stay, later waves are never touched.
 * Host machines are spawned children; their effects are injected by providing `host`.
 */

export interface Wave {
  name: string;
  hosts: string[];
}

export interface RolloutInput {
  revision: string;
  waves: Wave[];
  concurrency: number;
  maxFailures: number;
  soakMs: number;
  soakIntervalMs: number;
  /** After a restart: hosts that already settled for this revision. */
  settled?: Record<string, HostOutput>;
  /** After a restart: hosts that were mid-flight, and where to pick them up. */
  inFlight?: Record<string, { state: ResumableState; soakUntil: number | null }>;
}

export type RolloutOutcome = 'completed' | 'halted' | 'aborted';

export interface RolloutContext extends Required<Omit<RolloutInput, 'settled'>> {
  waveIndex: number;
  /** Hosts of the current wave not yet started. */
  pending: string[];
  running: number;
  results: Record<string, HostOutput>;
  outcome: RolloutOutcome | null;
}

export interface RolloutOutput {
  outcome: RolloutOutcome;
  failedHosts: string[];
  results: Record<string, HostOutput>;
}

const isFailure = (o: HostOutput) => o.result !== 'confirmed';

function waveFailures(context: RolloutContext): string[] {
  const wave = context.waves[context.waveIndex];
  return (wave?.hosts ?? []).filter((h) => context.results[h] && isFailure(context.results[h]));
}

export const hostActorId = (host: string) => `host:${host}`;

export const rolloutMachine = setup({
  types: {
    input: {} as RolloutInput,
    context: {} as RolloutContext,
    events: {} as { type: 'ABORT' } | { type: 'xstate.done.actor.*'; output: HostOutput },
    output: {} as RolloutOutput,
  },
  actors: { host: hostMachine },
  actions: {
    enterWave: assign(({ context }) => {
      const hosts = context.waves[context.waveIndex]?.hosts ?? [];
      return { pending: hosts.filter((h) => !context.results[h]), running: 0 };
    }),
    startHosts: enqueueActions(({ context, enqueue }) => {
      const free = Math.max(0, context.concurrency - context.running);
      const starting = context.pending.slice(0, free);
      for (const host of starting) {
        const resume = context.inFlight[host];
        enqueue.spawnChild('host', {
          id: hostActorId(host),
          input: {
            host,
            wave: context.waveIndex,
            revision: context.revision,
            soakMs: context.soakMs,
            soakIntervalMs: context.soakIntervalMs,
            ...(resume ? { resumeFrom: resume.state, soakUntil: resume.soakUntil } : {}),
          },
        });
        if (!resume) enqueue.sendTo(hostActorId(host), { type: 'START' });
      }
      enqueue.assign({ pending: context.pending.slice(starting.length), running: context.running + starting.length });
    }),
    recordHost: assign(({ context, event }) => {
      const output = (event as { output: HostOutput }).output;
      return { results: { ...context.results, [output.host]: output }, running: context.running - 1 };
    }),
  },
  guards: {
    waveSettled: ({ context }) => context.pending.length === 0 && context.running === 0,
    tooManyFailures: ({ context }) => waveFailures(context).length > context.maxFailures,
    moreWaves: ({ context }) => context.waveIndex + 1 < context.waves.length,
  },
}).createMachine({
  id: 'rollout',
  context: ({ input }) => ({
    revision: input.revision,
    waves: input.waves,
    concurrency: Math.max(1, input.concurrency),
    maxFailures: input.maxFailures,
    soakMs: input.soakMs,
    soakIntervalMs: input.soakIntervalMs,
    inFlight: input.inFlight ?? {},
    waveIndex: 0,
    pending: [],
    running: 0,
    results: { ...(input.settled ?? {}) },
    outcome: null,
  }),
  initial: 'wave',
  output: ({ context }) => ({
    outcome: context.outcome ?? 'aborted',
    failedHosts: Object.values(context.results).filter(isFailure).map((o) => o.host).sort(),
    results: context.results,
  }),
  on: { ABORT: '.aborted' },
  states: {
    wave: {
      entry: ['enterWave', 'startHosts'],
      always: { guard: 'waveSettled', target: 'waveSettled' },
      on: {
        'xstate.done.actor.*': { actions: ['recordHost', 'startHosts'] },
      },
    },
    waveSettled: {
      always: [
        { guard: 'tooManyFailures', target: 'halted' },
        { guard: 'moreWaves', target: 'wave', actions: assign({ waveIndex: ({ context }) => context.waveIndex + 1 }), reenter: true },
        { target: 'completed' },
      ],
    },
    completed: { type: 'final', entry: assign({ outcome: 'completed' as const }) },
    halted: { type: 'final', entry: assign({ outcome: 'halted' as const }) },
    aborted: { type: 'final', entry: assign({ outcome: 'aborted' as const }) },
  },
});
