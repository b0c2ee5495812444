import { assign, enqueueActions, setup } from 'xstate';
import { chainOf, newestFirst, prepend, type Chain } from './chain.js';
import type { HostOutput, ResumableState, RolloutOutcome, Wave } from '../src/eventlog/events.js';
import { hostMachine } from './host.js';
import { hostPool, type HostDone, type RunHost } from './host-pool.js';

/**
 * The rollout of one revision: waves in order (the first is the canary), hosts of a wave run
 * concurrently up to `concurrency`, and a wave with more failed hosts than its budget stops the
 * rollout: `halt` keeps the waves already done; `rollback` also undoes every host confirmed for
 * this revision, newest first. PAUSE stops starting hosts (in-flight ones finish); ABORT and
 * SUPERSEDE stop starting hosts and end the rollout once in-flight hosts settle — a host is never
 * cut off between apply and verification.
 * Host machines run in the `hosts` pool (its one child); their effects are injected by providing
 * `hosts: hostPool(hostMachine.provide(…))`.
 */

export interface RolloutInput {
  revision: string;
  waves: Wave[];
  concurrency: number;
  /** Failed hosts each wave tolerates (one entry per wave; missing entries use the last). */
  maxFailures: number[];
  onFailure: 'halt' | 'rollback';
  soakMs: number;
  soakIntervalMs: number;
  /** After a restart: hosts that already settled for this revision. */
  settled?: Record<string, HostOutput>;
  /** After a restart: hosts that were mid-flight, and where to pick them up. */
  inFlight?: Record<string, { state: ResumableState; soakUntil: number | null }>;
  /** After a restart: order in which hosts were confirmed (rollback undoes newest first). */
  confirmedOrder?: string[];
  /**
   * After a restart: the rollout was undoing confirmed hosts. It goes straight back to the undo;
   * the hosts in `inFlight` are the undo that was cut off, and are undone first.
   */
  undoing?: boolean;
}

export interface RolloutContext extends Omit<RolloutInput, 'settled' | 'inFlight' | 'confirmedOrder' | 'undoing'> {
  inFlight: NonNullable<RolloutInput['inFlight']>;
  waveIndex: number;
  /** Hosts of the current wave not yet started. */
  pending: string[];
  /** Ids of the host runs in flight (`host:NAME`, `undo:NAME`). */
  active: string[];
  /** Every host output so far, newest first; a host's newest output (an undo) stands. */
  settled: Chain<HostOutput>;
  /** Hosts in the order they were confirmed, newest first. */
  confirmed: Chain<string>;
  /** Confirmed hosts still to undo (`rollback`), newest first. */
  undo: string[];
  /** After a restart mid-undo: the hosts whose undo was cut off. */
  resumedUndo: string[] | null;
  paused: boolean;
  stopping: 'aborted' | 'superseded' | null;
  outcome: RolloutOutcome | null;
}

export interface RolloutOutput {
  outcome: RolloutOutcome;
  failedHosts: string[];
  results: Record<string, HostOutput>;
}

export type RolloutEvent =
  | { type: 'PAUSE' }
  | { type: 'RESUME' }
  | { type: 'ABORT' }
  | { type: 'SUPERSEDE' }
  | HostDone;

const isFailure = (o: HostOutput) => o.result !== 'confirmed';

export const hostActorId = (host: string) => `host:${host}`;
export const undoActorId = (host: string) => `undo:${host}`;

function budget(context: RolloutContext): number {
  return context.maxFailures[Math.min(context.waveIndex, context.maxFailures.length - 1)] ?? 0;
}

/** Each host's newest output. Built when a wave starts or settles, not on every event. */
function resultsOf(context: RolloutContext): Record<string, HostOutput> {
  const results: Record<string, HostOutput> = {};
  for (const o of newestFirst(context.settled)) results[o.host] ??= o;
  return results;
}

function waveFailures(context: RolloutContext): string[] {
  const wave = context.waves[context.waveIndex];
  const results = resultsOf(context);
  return (wave?.hosts ?? []).filter((h) => results[h] && isFailure(results[h]));
}

export const rolloutMachine = setup({
  types: {
    input: {} as RolloutInput,
    context: {} as RolloutContext,
    events: {} as RolloutEvent,
    output: {} as RolloutOutput,
  },
  actors: { hosts: hostPool(hostMachine) },
  actions: {
    enterWave: assign(({ context }) => {
      const hosts = context.waves[context.waveIndex]?.hosts ?? [];
      const results = resultsOf(context);
      return { pending: hosts.filter((h) => !results[h]) };
    }),
    startHosts: enqueueActions(({ context, enqueue }) => {
      if (context.paused || context.stopping) return;
      const free = Math.max(0, context.concurrency - context.active.length);
      const starting = context.pending.slice(0, free);
      for (const host of starting) {
        const resume = context.inFlight[host];
        const input = {
          host,
          wave: context.waveIndex,
          revision: context.revision,
          soakMs: context.soakMs,
          soakIntervalMs: context.soakIntervalMs,
          ...(resume ? { resumeFrom: resume.state, soakUntil: resume.soakUntil } : {}),
        };
        enqueue.sendTo('hosts', { type: 'RUN', id: hostActorId(host), input, start: !resume } satisfies RunHost);
      }
      enqueue.assign({ pending: context.pending.slice(starting.length), active: [...context.active, ...starting.map(hostActorId)] });
    }),
    recordHost: assign(({ context, event }) => {
      const { output, actorId } = event as HostDone;
      return {
        settled: prepend(output, context.settled),
        active: context.active.filter((id) => id !== actorId),
        confirmed: output.result === 'confirmed' ? prepend(output.host, context.confirmed) : context.confirmed,
      };
    }),
    planUndo: assign(({ context }) => ({ undo: [...(context.resumedUndo ?? []), ...newestFirst(context.confirmed)], resumedUndo: null })),
    undoNext: enqueueActions(({ context, enqueue }) => {
      const [host, ...rest] = context.undo;
      if (!host) return;
      const wave = context.waves.findIndex((w) => w.hosts.includes(host));
      const input = { host, wave, revision: context.revision, soakMs: 0, soakIntervalMs: context.soakIntervalMs, resumeFrom: 'rollingBack' as const, soakUntil: null };
      enqueue.sendTo('hosts', { type: 'RUN', id: undoActorId(host), input, start: false } satisfies RunHost);
      enqueue.assign({ undo: rest, active: [undoActorId(host)] });
    }),
    recordUndo: assign(({ context, event }) => {
      const output = (event as HostDone).output;
      const reason = `undone because a later wave failed${output.reason ? `; ${output.reason}` : ''}`;
      return { settled: prepend({ ...output, reason }, context.settled), active: [] };
    }),
  },
  guards: {
    waveSettled: ({ context }) => context.active.length === 0 && (context.pending.length === 0 || context.stopping !== null),
    stopping: ({ context }) => context.stopping !== null,
    tooManyFailures: ({ context }) => waveFailures(context).length > budget(context),
    rollbackOnFailure: ({ context }) => context.onFailure === 'rollback' && context.confirmed !== null,
    moreWaves: ({ context }) => context.waveIndex + 1 < context.waves.length,
    paused: ({ context }) => context.paused,
    undoDone: ({ context }) => context.active.length === 0 && context.undo.length === 0,
    resumingUndo: ({ context }) => context.resumedUndo !== null,
  },
}).createMachine({
  id: 'rollout',
  context: ({ input }) => ({
    revision: input.revision,
    waves: input.waves,
    concurrency: Math.max(1, input.concurrency),
    maxFailures: input.maxFailures.length > 0 ? input.maxFailures : [0],
    onFailure: input.onFailure,
    soakMs: input.soakMs,
    soakIntervalMs: input.soakIntervalMs,
    inFlight: input.inFlight ?? {},
    waveIndex: 0,
    pending: [],
    active: [],
    settled: chainOf(Object.values(input.settled ?? {})),
    confirmed: chainOf(input.confirmedOrder ?? Object.values(input.settled ?? {}).filter((o) => o.result === 'confirmed').map((o) => o.host)),
    undo: [],
    resumedUndo: input.undoing ? Object.keys(input.inFlight ?? {}) : null,
    paused: false,
    stopping: null,
    outcome: null,
  }),
  invoke: { id: 'hosts', src: 'hosts' },
  initial: 'starting',
  output: ({ context }) => {
    const results = resultsOf(context);
    return { outcome: context.outcome ?? 'aborted', failedHosts: Object.values(results).filter(isFailure).map((o) => o.host).sort(), results };
  },
  on: {
    PAUSE: { actions: assign({ paused: true }) },
    RESUME: { actions: [assign({ paused: false }), 'startHosts'] },
    ABORT: { actions: assign({ stopping: ({ context }) => context.stopping ?? 'aborted' }) },
    SUPERSEDE: { actions: assign({ stopping: ({ context }) => context.stopping ?? 'superseded' }) },
  },
  states: {
    starting: {
      always: [{ guard: 'resumingUndo', target: 'undoing' }, { target: 'wave' }],
    },
    wave: {
      entry: ['enterWave', 'startHosts'],
      always: { guard: 'waveSettled', target: 'waveSettled' },
      on: {
        HOST_DONE: { actions: ['recordHost', 'startHosts'] },
      },
    },
    waveSettled: {
      always: [
        { guard: 'tooManyFailures', target: 'failing' },
        { guard: 'stopping', target: 'stopped' },
        { guard: 'paused', target: 'pausedBetweenWaves' },
        { guard: 'moreWaves', target: 'wave', actions: assign({ waveIndex: ({ context }) => context.waveIndex + 1 }), reenter: true },
        { target: 'completed' },
      ],
    },
    pausedBetweenWaves: {
      on: { RESUME: { target: 'waveSettled', actions: assign({ paused: false }) } },
      always: { guard: 'stopping', target: 'stopped' },
    },
    failing: {
      always: [{ guard: 'rollbackOnFailure', target: 'undoing' }, { target: 'halted' }],
    },
    undoing: {
      entry: ['planUndo', 'undoNext'],
      always: { guard: 'undoDone', target: 'rolledBack' },
      on: { HOST_DONE: { actions: ['recordUndo', 'undoNext'] } },
    },
    stopped: {
      always: [
        { guard: ({ context }) => context.stopping === 'superseded', target: 'superseded' },
        { target: 'aborted' },
      ],
    },
    completed: { type: 'final', entry: assign({ outcome: 'completed' as const }) },
    halted: { type: 'final', entry: assign({ outcome: 'halted' as const }) },
    rolledBack: { type: 'final', entry: assign({ outcome: 'rolledBack' as const }) },
    aborted: { type: 'final', entry: assign({ outcome: 'aborted' as const }) },
    superseded: { type: 'final', entry: assign({ outcome: 'superseded' as const }) },
  },
});
