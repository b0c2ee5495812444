import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { hostMachine, type CheckRound, type EffectInput } from '../../machines/host.js';
import { hostPool } from '../../machines/host-pool.js';
import { rolloutMachine, type RolloutInput } from '../../machines/rollout.js';
import { soakRounds } from '../../machines/soak.js';

/**
 * A rollout's only child is its host pool; host machines run in the pool, as many at once as
 * the concurrency allows, and none outlive the rollout. As children of the rollout they made
 * every spawn and stop copy the `children` object: quadratic in the hosts in flight (1,000 at
 * once took 2 s with no effects at all) and memory held until the rollout ended.
 */
const round = (ok: boolean): CheckRound => ({ ok, checks: [{ name: 'tcp/22', ok, detail: ok ? 'open' : 'timed out' }] });
const hosts = Array.from({ length: 60 }, (_, i) => `h${String(i).padStart(2, '0')}`);
const input = (over: Partial<RolloutInput> = {}): RolloutInput => ({
  revision: 'r1',
  waves: [
    { name: 'a', hosts: hosts.slice(0, 20) },
    { name: 'b', hosts: hosts.slice(20) },
  ],
  concurrency: 5,
  maxFailures: [0],
  onFailure: 'halt',
  soakMs: 0,
  soakIntervalMs: 1,
  ...over,
});

function fleet(failing = new Set<string>(), apply: (input: EffectInput, signal: AbortSignal) => Promise<{ rulesetHash: string }> = async () => ({ rulesetHash: 'h' })) {
  const verify = async (input: EffectInput) => round(!failing.has(input.host));
  const host = hostMachine.provide({
    actors: {
      preflight: fromPromise(async () => round(true)),
      apply: fromPromise(({ input, signal }: { input: EffectInput; signal: AbortSignal }) => apply(input, signal)),
      verify: fromPromise(({ input }: { input: EffectInput }) => verify(input)),
      soak: soakRounds({ setTimeout, clearTimeout }, verify),
      restore: fromPromise(async () => ({ rulesetHash: 'previous' })),
    },
  });
  const live = new Set<string>();
  let most = 0;
  const pool = hostPool(host, {
    observe: (id, snapshot) => {
      if (snapshot.status === 'done') live.delete(id);
      else live.add(id);
      most = Math.max(most, live.size);
    },
  });
  return { machine: rolloutMachine.provide({ actors: { hosts: pool } }), live, most: () => most };
}

async function run(over: Partial<RolloutInput>, failing = new Set<string>()) {
  const f = fleet(failing);
  const actor = createActor(f.machine, { input: input(over) });
  const childIds = new Set<string>();
  actor.subscribe((s) => Object.keys(s.children).forEach((id) => childIds.add(id)));
  const output = await toPromise(actor.start());
  return { output, childIds: [...childIds], most: f.most(), left: f.live.size };
}

describe('rollout machine and its host pool', () => {
  it('has the pool as its only child, runs no more hosts at once than the concurrency, and none once settled', async () => {
    const { output, childIds, most, left } = await run({});
    expect(output.outcome).toBe('completed');
    expect(Object.keys(output.results)).toHaveLength(60);
    expect(childIds).toEqual(['hosts']);
    expect(most).toBe(5);
    expect(left).toBe(0);
  });

  it('runs undo hosts in the pool as well, one at a time', async () => {
    const { output, childIds, most, left } = await run({ onFailure: 'rollback' }, new Set(['h40']));
    expect(output.outcome).toBe('rolledBack');
    expect(Object.values(output.results).filter((r) => r.reason?.startsWith('undone because')).length).toBeGreaterThan(20);
    expect(childIds).toEqual(['hosts']);
    expect(most).toBeLessThanOrEqual(5);
    expect(left).toBe(0);
  });

  it('stopping the rollout stops every host machine in flight', async () => {
    let aborted = 0;
    let started = 0;
    const f = fleet(new Set(), (_input, signal) => {
      started += 1;
      return new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted += 1;
          reject(new Error('stopped'));
        }),
      );
    });
    const actor = createActor(f.machine, { input: input() }).start();
    for (let i = 0; i < 100 && started < 5; i++) await new Promise((r) => setTimeout(r, 5));
    expect(started).toBe(5);
    actor.stop();
    expect(aborted).toBe(5);
  });
});
