import { createActor, fromCallback, type SnapshotFrom } from 'xstate';
import type { HostOutput } from '../src/eventlog/events.js';
import type { HostInput, hostMachine } from './host.js';
import type { SoakClock } from './soak.js';

type HostLogic = typeof hostMachine;

/** Runs one host machine: `start` sends it START (a resumed host starts where its input says). */
export interface RunHost {
  type: 'RUN';
  id: string;
  input: HostInput;
  start: boolean;
}

/** What the pool reports to the rollout: a host run ended, with its output. */
export interface HostDone {
  type: 'HOST_DONE';
  actorId: string;
  output: HostOutput;
}

export interface HostPoolOptions {
  /** The timers host machines use (a simulated clock in tests). */
  clock?: SoakClock;
  /** Every snapshot of every host run, its final one before the rollout hears it is done. */
  observe?(id: string, snapshot: SnapshotFrom<HostLogic>): void;
}

/**
 * The one child of a rollout: it runs the rollout's host machines as actors of their own
 * instead of as the rollout's children. xstate copies a machine's `children` on every spawn and
 * stop, so a thousand hosts in flight cost a million copies per rollout (measured: 2 s of CPU
 * for 1,000 hosts with no effects at all, against 0.17 s for 200). Host runs end with the pool:
 * stopping the rollout stops every host machine in flight.
 */
export function hostPool(logic: HostLogic, opts: HostPoolOptions = {}) {
  return fromCallback<RunHost>(({ sendBack, receive }) => {
    const running = new Map<string, ReturnType<typeof createActor<HostLogic>>>();
    receive((run) => {
      const actor = createActor(logic, { id: run.id, input: run.input, ...(opts.clock ? { clock: opts.clock } : {}) });
      running.set(run.id, actor);
      const finish = (output: HostOutput) => {
        if (!running.delete(run.id)) return;
        sendBack({ type: 'HOST_DONE', actorId: run.id, output } satisfies HostDone);
      };
      actor.subscribe({
        next: (snapshot) => {
          opts.observe?.(run.id, snapshot);
          if (snapshot.status === 'done') finish(snapshot.output);
        },
        // A host machine that throws is a bug, not a verdict on the host: it is reported as
        // failed (needs a person) rather than left running for ever.
        error: (e) => finish({ host: run.input.host, result: 'failed', reason: `internal error in the host machine: ${(e as Error)?.message ?? String(e)}`, checks: [] }),
      });
      actor.start();
      if (run.start) actor.send({ type: 'START' });
    });
    return () => {
      for (const actor of running.values()) actor.stop();
      running.clear();
    };
  });
}
