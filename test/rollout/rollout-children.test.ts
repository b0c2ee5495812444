import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { hostMachine, type CheckRound, type EffectInput } from '../../machines/host.js';
import { rolloutMachine, type RolloutInput } from '../../machines/rollout.js';
import { soakRounds } from '../../machines/soak.js';

/**
 * A rollout keeps only in-flight host actors as children. Settled ones used to stay, so every
 * later spawn and transition copied an ever larger `children` object: quadratic in the fleet
 * (1,000 hosts took seconds with no effects at all) and memory held until the rollout ended.
 */
const round = (ok: boolean): CheckRound => ({ ok, checks: [{ name: 'tcp/22', ok, detail: ok ? 'open' : 'timed out' }] });

function run(over: Partial<RolloutInput>, failing = new Set<string>()) {
  const verify = async (input: EffectInput) => round(!failing.has(input.host));
  const host = hostMachine.provide({
    actors: {
      preflight: fromPromise(async () => round(true)),
      apply: fromPromise(async () => ({ rulesetHash: 'h' })),
      verify: fromPromise(({ input }: { input: EffectInput }) => verify(input)),
      soak: soakRounds({ setTimeout, clearTimeout }, verify),
      restore: fromPromise(async () => ({ rulesetHash: 'previous' })),
    },
  });
  const hosts = Array.from({ length: 60 }, (_, i) => `h${String(i).padStart(2, '0')}`);
  const actor = createActor(rolloutMachine.provide({ actors: { host } }), {
    input: {
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
    },
  });
  let most = 0;
  actor.subscribe((s) => {
    most = Math.max(most, Object.keys(s.children).length);
  });
  return toPromise(actor.start()).then((output) => ({ output, most, left: Object.keys(actor.getSnapshot().children).length }));
}

describe('rollout machine children', () => {
  it('holds no more host actors than the concurrency, and none once settled', async () => {
    const { output, most, left } = await run({});
    expect(output.outcome).toBe('completed');
    expect(Object.keys(output.results)).toHaveLength(60);
    expect(most).toBeLessThanOrEqual(5);
    expect(left).toBe(0);
  });

  it('releases undo actors as well', async () => {
    const { output, most, left } = await run({ onFailure: 'rollback' }, new Set(['h40']));
    expect(output.outcome).toBe('rolledBack');
    expect(Object.values(output.results).filter((r) => r.reason?.startsWith('undone because')).length).toBeGreaterThan(20);
    expect(most).toBeLessThanOrEqual(5);
    expect(left).toBe(0);
  });
});
