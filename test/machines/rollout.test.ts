import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, toPromise } from 'xstate';
import { hostMachine, type CheckRound, type EffectInput, type PreflightResult } from '../../machines/host.js';
import { hostPool } from '../../machines/host-pool.js';
import { rolloutMachine, type RolloutInput } from '../../machines/rollout.js';
import { soakRounds } from '../../machines/soak.js';

/** A fleet where `bad` hosts fail verification after apply; every effect call is recorded. */
function fleet(bad: Set<string>, unreachable = new Set<string>()) {
  const calls: string[] = [];
  const applied = new Set<string>();
  const round = (ok: boolean): CheckRound => ({ ok, checks: [{ name: 'tcp/22', ok, detail: ok ? 'connected' : 'timed out' }] });
  const verify = async (input: EffectInput) => {
    calls.push(`verify ${input.host}`);
    return round(!(bad.has(input.host) && applied.has(input.host)));
  };
  const host = hostMachine.provide({
    actors: {
      preflight: fromPromise(async ({ input }: { input: EffectInput }) => {
        calls.push(`preflight ${input.host}`);
        return round(!unreachable.has(input.host));
      }),
      apply: fromPromise(async ({ input }: { input: EffectInput }) => {
        calls.push(`apply ${input.host}`);
        applied.add(input.host);
        return { rulesetHash: `h-${input.revision}` };
      }),
      verify: fromPromise(({ input }: { input: EffectInput }) => verify(input)),
      soak: soakRounds({ setTimeout, clearTimeout }, verify),
      restore: fromPromise(async ({ input }: { input: EffectInput }) => {
        calls.push(`restore ${input.host}`);
        applied.delete(input.host);
        return { rulesetHash: 'previous' };
      }),
    },
  });
  return { calls, machine: rolloutMachine.provide({ actors: { hosts: hostPool(host) } }) };
}

const input = (over: Partial<RolloutInput> = {}): RolloutInput => ({
  revision: 'r1',
  waves: [
    { name: 'canary', hosts: ['a'] },
    { name: 'rest', hosts: ['b', 'c'] },
  ],
  concurrency: 2,
  maxFailures: [0],
  onFailure: 'halt',
  soakMs: 0,
  soakIntervalMs: 10,
  ...over,
});

describe('rollout machine', () => {
  it('confirms every host, canary wave first', async () => {
    const { calls, machine } = fleet(new Set());
    const out = await toPromise(createActor(machine, { input: input() }).start());
    expect(out.outcome).toBe('completed');
    expect(Object.values(out.results).map((r) => r.result)).toEqual(['confirmed', 'confirmed', 'confirmed']);
    expect(calls.indexOf('apply a')).toBeLessThan(calls.indexOf('apply b'));
    expect(calls.filter((c) => c.startsWith('verify a')).length).toBeGreaterThanOrEqual(1);
  });

  it('rolls back a failing canary and never touches later waves', async () => {
    const { calls, machine } = fleet(new Set(['a']));
    const out = await toPromise(createActor(machine, { input: input() }).start());
    expect(out.outcome).toBe('halted');
    expect(out.failedHosts).toEqual(['a']);
    expect(out.results.a?.result).toBe('rolledBack');
    expect(out.results.a?.reason).toMatch(/checks failed after apply: tcp\/22: timed out/);
    expect(calls).toContain('restore a');
    expect(calls.some((c) => c.endsWith(' b') || c.endsWith(' c'))).toBe(false);
  });

  it('tolerates failures up to maxFailures and continues', async () => {
    const { machine } = fleet(new Set(['b']));
    const out = await toPromise(createActor(machine, { input: input({ maxFailures: [1] }) }).start());
    expect(out.outcome).toBe('completed');
    expect(out.failedHosts).toEqual(['b']);
  });

  it('marks a host unreachable when its baseline fails, without applying', async () => {
    const { calls, machine } = fleet(new Set(), new Set(['a']));
    const out = await toPromise(createActor(machine, { input: input() }).start());
    expect(out.results.a?.result).toBe('unreachable');
    expect(calls).not.toContain('apply a');
    expect(out.outcome).toBe('halted');
  });

  it('respects per-wave concurrency', async () => {
    let inFlight = 0;
    let peak = 0;
    const host = hostMachine.provide({
      actors: {
        preflight: fromPromise<CheckRound, EffectInput>(async () => ({ ok: true, checks: [] })),
        apply: fromPromise<{ rulesetHash: string }, EffectInput>(async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise((r) => setTimeout(r, 5));
          inFlight--;
          return { rulesetHash: 'x' };
        }),
        verify: fromPromise<CheckRound, EffectInput>(async () => ({ ok: true, checks: [] })),
        soak: soakRounds({ setTimeout, clearTimeout }, async () => ({ ok: true, checks: [] })),
        restore: fromPromise<{ rulesetHash: string }, EffectInput>(async () => ({ rulesetHash: 'x' })),
      },
    });
    const waves = [{ name: 'all', hosts: ['a', 'b', 'c', 'd', 'e'] }];
    const out = await toPromise(createActor(rolloutMachine.provide({ actors: { hosts: hostPool(host) } }), { input: input({ waves, concurrency: 2 }) }).start());
    expect(out.outcome).toBe('completed');
    expect(peak).toBe(2);
  });

  it('onFailure rollback undoes confirmed hosts, newest first, when a later wave fails', async () => {
    const { calls, machine } = fleet(new Set(['c']));
    const waves = [
      { name: 'canary', hosts: ['a'] },
      { name: 'w1', hosts: ['b'] },
      { name: 'w2', hosts: ['c'] },
    ];
    const out = await toPromise(createActor(machine, { input: input({ waves, onFailure: 'rollback' }) }).start());
    expect(out.outcome).toBe('rolledBack');
    expect(out.results.a?.result).toBe('rolledBack');
    expect(out.results.b?.result).toBe('rolledBack');
    expect(out.results.b?.reason).toMatch(/undone because a later wave failed/);
    expect(out.results.c?.result).toBe('rolledBack');
    const restores = calls.filter((c) => c.startsWith('restore'));
    expect(restores).toEqual(['restore c', 'restore b', 'restore a']);
  });

  it('resumed mid-undo, finishes the undo (the cut-off host first) and ends rolled back', async () => {
    const { calls, machine } = fleet(new Set());
    const waves = [
      { name: 'canary', hosts: ['a'] },
      { name: 'w1', hosts: ['b'] },
      { name: 'w2', hosts: ['c'] },
    ];
    const failed = { host: 'c', result: 'rolledBack' as const, reason: 'checks failed after apply', checks: [] };
    const resumed = input({
      waves,
      onFailure: 'rollback',
      settled: { c: failed, a: { host: 'a', result: 'confirmed', reason: null, checks: [] } },
      inFlight: { b: { state: 'rollingBack', soakUntil: null } },
      confirmedOrder: ['a'],
      undoing: true,
    });
    const out = await toPromise(createActor(machine, { input: resumed }).start());
    expect(out.outcome).toBe('rolledBack');
    expect(calls.filter((c) => c.startsWith('restore'))).toEqual(['restore b', 'restore a']);
    expect(calls.some((c) => c.startsWith('apply') || c.startsWith('preflight'))).toBe(false);
    expect(out.results.b?.reason).toMatch(/undone because a later wave failed/);
    expect(out.failedHosts).toEqual(['a', 'b', 'c']);
  });

  it('halts without undoing anything by default', async () => {
    const { calls, machine } = fleet(new Set(['b']));
    const out = await toPromise(createActor(machine, { input: input() }).start());
    expect(out.outcome).toBe('halted');
    expect(out.results.a?.result).toBe('confirmed');
    expect(calls).not.toContain('restore a');
  });

  it('pauses between waves and resumes on request', async () => {
    const { calls, machine } = fleet(new Set());
    const actor = createActor(machine, { input: input() }).start();
    actor.send({ type: 'PAUSE' });
    await new Promise((r) => setTimeout(r, 50));
    expect(actor.getSnapshot().value).toBe('pausedBetweenWaves');
    expect(calls.some((c) => c.endsWith(' b'))).toBe(false);
    actor.send({ type: 'RESUME' });
    const out = await toPromise(actor);
    expect(out.outcome).toBe('completed');
    expect(calls).toContain('apply b');
  });

  it('abort and supersede let in-flight hosts settle and start no others', async () => {
    for (const [event, outcome] of [['ABORT', 'aborted'], ['SUPERSEDE', 'superseded']] as const) {
      const { calls, machine } = fleet(new Set());
      const actor = createActor(machine, { input: input() }).start();
      actor.send({ type: event });
      const out = await toPromise(actor);
      expect(out.outcome).toBe(outcome);
      expect(out.results.a?.result).toBe('confirmed');
      expect(calls.some((c) => c.endsWith(' b') || c.endsWith(' c'))).toBe(false);
    }
  });

  it('counts a host whose dry run rejects the ruleset as failed, without applying', async () => {
    const host = hostMachine.provide({
      actors: {
        preflight: fromPromise<PreflightResult, EffectInput>(async () => ({ ok: false, checks: [], rejected: 'nft: syntax error' })),
        apply: fromPromise<{ rulesetHash: string }, EffectInput>(async () => {
          throw new Error('must not apply');
        }),
        verify: fromPromise<CheckRound, EffectInput>(async () => ({ ok: true, checks: [] })),
        soak: soakRounds({ setTimeout, clearTimeout }, async () => ({ ok: true, checks: [] })),
        restore: fromPromise<{ rulesetHash: string }, EffectInput>(async () => ({ rulesetHash: 'x' })),
      },
    });
    const out = await toPromise(createActor(rolloutMachine.provide({ actors: { hosts: hostPool(host) } }), { input: input() }).start());
    expect(out.outcome).toBe('halted');
    expect(out.results.a).toMatchObject({ result: 'rejected', reason: expect.stringMatching(/dry run.*nft: syntax error/) });
  });
});
