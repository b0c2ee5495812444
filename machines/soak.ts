import { fromCallback, type EventObject } from 'xstate';
import type { CheckRound, EffectInput } from './host.js';

/** Timers of the clock the rollout runs on (xstate's `SimulatedClock` in tests and benchmarks). */
export interface SoakClock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export interface SoakInput extends EffectInput {
  /** Pause before each check round. */
  intervalMs: number;
}

/** Every finished round (the host machine keeps the newest checks), or why a round could not run. */
export type SoakEvent = { type: 'SOAK.ROUND'; round: CheckRound } | { type: 'SOAK.ERROR'; error: unknown };

/**
 * A host's whole soak as one actor: a check round every interval on `clock`, each reported to the
 * host machine, until one fails or throws (the machine leaves `soaking` then) or the machine
 * stops it at the soak deadline. One actor per soak instead of one per round: actors are most of
 * xstate's cost in a large rollout. The deadline stays in the machine (`soakUntil`), so a restart
 * resumes a soak with the time it had left.
 */
export function soakRounds(clock: SoakClock, check: (input: EffectInput) => Promise<CheckRound>) {
  return fromCallback<EventObject, SoakInput, SoakEvent>(({ input, sendBack }) => {
    let stopped = false;
    let timer: unknown;
    const next = () => {
      timer = clock.setTimeout(() => {
        check({ host: input.host, revision: input.revision }).then(
          (round) => {
            if (stopped) return;
            sendBack({ type: 'SOAK.ROUND', round });
            if (round.ok) next();
          },
          (error: unknown) => {
            if (!stopped) sendBack({ type: 'SOAK.ERROR', error });
          },
        );
      }, input.intervalMs);
    };
    next();
    return () => {
      stopped = true;
      clock.clearTimeout(timer);
    };
  });
}
