import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock, type AnyEventObject, type SnapshotFrom } from 'xstate';
import { hostMachine, hostMachineWithClock, type CheckRound, type EffectInput, type PreflightResult } from '../../machines/host.js';
import { soakRounds } from '../../machines/soak.js';

/**
 * Model-based tests of the host machine: @xstate/graph enumerates every reachable state with an
 * explicit event alphabet (effects succeed, fail their checks, or throw; timers fire), then each
 * simple path is replayed on a live actor whose effects answer as the path says, on a simulated
 * clock, with the real soak loop. State is serialised by value only, so the space stays finite.
 */

const SOAK_MS = 10_000;
const SOAK_INTERVAL_MS = 100;
const input = { host: 'h', wave: 0, revision: 'r', soakMs: SOAK_MS, soakIntervalMs: SOAK_INTERVAL_MS };

const round = (ok: boolean): CheckRound => ({ ok, checks: [{ name: 'ssh', ok, detail: ok ? 'open' : 'closed' }] });
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output });
const error = (id: string) => ({ type: `xstate.error.actor.${id}`, error: new Error(`${id} broke`) });
const after = (delay: string, node: string) => ({ type: `xstate.after.${delay}.${node}` });

const stateName = (s: SnapshotFrom<typeof hostMachine>) => JSON.stringify(s.value);

const soakRound = (ok: boolean) => ({ type: 'SOAK.ROUND', round: round(ok) });

function eventsFor(s: SnapshotFrom<typeof hostMachine>): AnyEventObject[] {
  const v = s.value as string;
  switch (v) {
    case 'queued':
      return [{ type: 'START' }];
    case 'preflight':
      return [done('preflight', round(true)), done('preflight', round(false)), done('preflight', { ...round(true), rejected: 'nft: syntax error' }), error('preflight')];
    case 'applying':
      return [done('apply', { rulesetHash: 'h1' }), error('apply')];
    case 'verifying':
      return [done('verify', round(true)), done('verify', round(false)), error('verify')];
    case 'soaking':
      return [soakRound(true), soakRound(false), { type: 'SOAK.ERROR', error: new Error('soak check broke') }, after('soakRemaining', 'host.soaking')];
    case 'rollingBack':
      return [done('restore', { rulesetHash: 'h0' }), error('restore')];
    case 'verifyingRollback':
      return [done('verifyRollback', round(true)), done('verifyRollback', round(false))];
    default:
      return [];
  }
}

// The graph library types events as the machine's own union; done/after events are xstate's.
const traversal = { input, events: eventsFor as unknown as (s: SnapshotFrom<typeof hostMachine>) => { type: 'START' }[], serializeState: stateName };
const paths = getShortestPaths(hostMachine, traversal);
const simplePaths = getSimplePaths(hostMachine, traversal);
const visited = (path: (typeof paths)[number]) => [stateName(path.steps[0]?.state ?? path.state), ...path.steps.map((s) => stateName(s.state))];

describe('host machine model', () => {
  it('reaches exactly the expected states, every final state among them', () => {
    const reached = new Set(paths.map((p) => stateName(p.state)));
    expect([...reached].sort()).toEqual(
      [
        '"queued"', '"preflight"', '"applying"', '"verifying"', '"soaking"',
        '"rollingBack"', '"verifyingRollback"', '"confirmed"', '"rolledBack"', '"failed"', '"unreachable"', '"rejected"',
      ].sort(),
    );
    // A bound on the state space: a change that makes it explode fails here, not in CI's memory.
    expect(paths).toHaveLength(12);
  });

  it('never confirms without applying, verifying and soaking, and never touches an unreachable or rejected host', () => {
    expect(simplePaths.length).toBeGreaterThan(20);
    const finals = simplePaths.filter((p) => p.state.status === 'done');
    expect(finals.length).toBeGreaterThan(10);
    for (const path of finals) {
      const states = visited(path);
      const end = stateName(path.state);
      if (end === '"confirmed"') {
        expect(states).toEqual(expect.arrayContaining(['"applying"', '"verifying"', '"soaking"']));
      }
      if (end === '"unreachable"' || end === '"rejected"') expect(states).not.toContain('"applying"');
      if (states.includes('"applying"') && end !== '"confirmed"') {
        expect(states).toContain('"rollingBack"');
        expect(['"rolledBack"', '"failed"']).toContain(end);
      }
    }
  });

  it('behaves on a live actor exactly as the model says, path by path', async () => {
    const effectOf: Record<string, 'preflight' | 'apply' | 'verify' | 'restore'> = {
      preflight: 'preflight',
      apply: 'apply',
      verify: 'verify',
      verifyRollback: 'verify',
      restore: 'restore',
    };
    // Simple paths, not only shortest ones: no shortest path leaves a soak through a failed round.
    for (const path of simplePaths) {
      const queues: Record<string, { ok: boolean; value: unknown }[]> = { preflight: [], apply: [], verify: [], restore: [] };
      for (const step of path.steps) {
        const event = step.event as AnyEventObject & { output?: unknown; error?: unknown; round?: CheckRound };
        const m = /^xstate\.(done|error)\.actor\.(\w+)$/.exec(event.type);
        if (m) queues[effectOf[m[2]!]!]!.push({ ok: m[1] === 'done', value: m[1] === 'done' ? event.output : event.error });
        else if (event.type === 'SOAK.ROUND') queues.verify!.push({ ok: true, value: event.round });
        else if (event.type === 'SOAK.ERROR') queues.verify!.push({ ok: false, value: event.error });
      }
      const answer = async <T,>(name: string): Promise<T> => {
        const next = queues[name]!.shift();
        // The path ends while this effect is still running: it must not answer at all.
        if (!next) return new Promise<T>(() => {});
        if (!next.ok) throw next.value;
        return next.value as T;
      };
      const effect = <T,>(name: string) => fromPromise<T, EffectInput>(() => answer<T>(name));
      const clock = new SimulatedClock();
      const machine = hostMachineWithClock(() => clock.now()).provide({
        actors: {
          preflight: effect<PreflightResult>('preflight'),
          apply: effect('apply'),
          verify: effect<CheckRound>('verify'),
          restore: effect('restore'),
          soak: soakRounds(clock, () => answer<CheckRound>('verify')),
        },
      });
      const actor = createActor(machine, { input, clock }).start();
      const settle = () => new Promise((r) => setTimeout(r, 0));
      for (const step of path.steps) {
        const event = step.event as AnyEventObject;
        if (event.type === 'START') actor.send({ type: 'START' });
        else if (event.type.startsWith('SOAK.')) clock.increment(SOAK_INTERVAL_MS);
        else if (event.type.startsWith('xstate.after.soakRemaining')) clock.increment(SOAK_MS);
        await settle();
      }
      expect(stateName(actor.getSnapshot()), `path ${visited(path).join(' → ')}`).toBe(stateName(path.state));
      actor.stop();
    }
  });

  it('soaks with one check round per interval, keeping the newest checks, until the deadline', async () => {
    const clock = new SimulatedClock();
    let rounds = 0;
    const check = async (): Promise<CheckRound> => ({ ok: true, checks: [{ name: 'ssh', ok: true, detail: `round ${++rounds}` }] });
    const machine = hostMachineWithClock(() => clock.now()).provide({
      actors: { verify: fromPromise<CheckRound, EffectInput>(check), soak: soakRounds(clock, check) },
    });
    const actor = createActor(machine, { input: { ...input, resumeFrom: 'soaking' }, clock }).start();
    const settle = () => new Promise((r) => setTimeout(r, 0));
    for (let t = SOAK_INTERVAL_MS; t < SOAK_MS; t += SOAK_INTERVAL_MS) {
      clock.increment(SOAK_INTERVAL_MS);
      await settle();
    }
    expect(actor.getSnapshot().value).toBe('soaking');
    expect(rounds).toBe(SOAK_MS / SOAK_INTERVAL_MS - 1);
    clock.increment(SOAK_INTERVAL_MS);
    await settle();
    // The deadline comes before the round due at the same instant, which never runs.
    expect(actor.getSnapshot().value).toBe('confirmed');
    expect(rounds).toBe(SOAK_MS / SOAK_INTERVAL_MS - 1);
    expect(actor.getSnapshot().output!.checks[0]!.detail).toBe(`round ${rounds}`);
  });

  it('resumes a soak after a restart with only the time that was left', async () => {
    const clock = new SimulatedClock();
    clock.set(50_000);
    const check = async () => round(true);
    const machine = hostMachineWithClock(() => clock.now()).provide({ actors: { verify: fromPromise<CheckRound, EffectInput>(check), soak: soakRounds(clock, check) } });
    const actor = createActor(machine, { input: { ...input, soakIntervalMs: 60_000, resumeFrom: 'soaking', soakUntil: 53_000 }, clock }).start();
    clock.increment(2_999);
    expect(actor.getSnapshot().value).toBe('soaking');
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('confirmed');
  });
});
