import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock, type AnyEventObject, type SnapshotFrom } from 'xstate';
import { hostMachine, hostMachineWithClock, type CheckRound, type EffectInput, type PreflightResult } from '../../machines/host.js';

/**
 * Model-based tests of the host machine: @xstate/graph enumerates every reachable state with an
 * explicit event alphabet (effects succeed, fail their checks, or throw; timers fire), then each
 * shortest path is replayed on a live actor whose effects answer as the path says, on a
 * simulated clock. State is serialised by value only, so the space stays finite.
 */

const SOAK_MS = 10_000;
const SOAK_INTERVAL_MS = 100;
const input = { host: 'h', wave: 0, revision: 'r', soakMs: SOAK_MS, soakIntervalMs: SOAK_INTERVAL_MS };

const round = (ok: boolean): CheckRound => ({ ok, checks: [{ name: 'ssh', ok, detail: ok ? 'open' : 'closed' }] });
const done = (id: string, output: unknown) => ({ type: `xstate.done.actor.${id}`, output });
const error = (id: string) => ({ type: `xstate.error.actor.${id}`, error: new Error(`${id} broke`) });
const after = (delay: string, node: string) => ({ type: `xstate.after.${delay}.${node}` });

const stateName = (s: SnapshotFrom<typeof hostMachine>) => JSON.stringify(s.value);

function eventsFor(s: SnapshotFrom<typeof hostMachine>): AnyEventObject[] {
  const v = s.value as string | { soaking: string };
  if (typeof v === 'object') {
    const soakOver = after('soakRemaining', 'host.soaking');
    return v.soaking === 'waiting'
      ? [after('soakInterval', 'host.soaking.waiting'), soakOver]
      : [done('soakCheck', round(true)), done('soakCheck', round(false)), error('soakCheck'), soakOver];
  }
  switch (v) {
    case 'queued':
      return [{ type: 'START' }];
    case 'preflight':
      return [done('preflight', round(true)), done('preflight', round(false)), done('preflight', { ...round(true), rejected: 'nft: syntax error' }), error('preflight')];
    case 'applying':
      return [done('apply', { rulesetHash: 'h1' }), error('apply')];
    case 'verifying':
      return [done('verify', round(true)), done('verify', round(false)), error('verify')];
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
const visited = (path: (typeof paths)[number]) => [stateName(path.steps[0]?.state ?? path.state), ...path.steps.map((s) => stateName(s.state))];

describe('host machine model', () => {
  it('reaches exactly the expected states, every final state among them', () => {
    const reached = new Set(paths.map((p) => stateName(p.state)));
    expect([...reached].sort()).toEqual(
      [
        '"queued"', '"preflight"', '"applying"', '"verifying"', '{"soaking":"waiting"}', '{"soaking":"checking"}',
        '"rollingBack"', '"verifyingRollback"', '"confirmed"', '"rolledBack"', '"failed"', '"unreachable"', '"rejected"',
      ].sort(),
    );
    // A bound on the state space: a change that makes it explode fails here, not in CI's memory.
    expect(paths).toHaveLength(13);
  });

  it('never confirms without applying, verifying and soaking, and never touches an unreachable or rejected host', () => {
    const all = getSimplePaths(hostMachine, traversal);
    expect(all.length).toBeGreaterThan(20);
    const finals = all.filter((p) => p.state.status === 'done');
    expect(finals.length).toBeGreaterThan(10);
    for (const path of finals) {
      const states = visited(path);
      const end = stateName(path.state);
      if (end === '"confirmed"') {
        expect(states).toEqual(expect.arrayContaining(['"applying"', '"verifying"', '{"soaking":"waiting"}']));
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
      soakCheck: 'verify',
      verifyRollback: 'verify',
      restore: 'restore',
    };
    for (const path of paths) {
      const queues: Record<string, { ok: boolean; value: unknown }[]> = { preflight: [], apply: [], verify: [], restore: [] };
      for (const step of path.steps) {
        const event = step.event as AnyEventObject & { output?: unknown; error?: unknown };
        const m = /^xstate\.(done|error)\.actor\.(\w+)$/.exec(event.type);
        if (m) queues[effectOf[m[2]!]!]!.push({ ok: m[1] === 'done', value: m[1] === 'done' ? event.output : event.error });
      }
      const effect = <T,>(name: string) =>
        fromPromise<T, EffectInput>(async () => {
          const next = queues[name]!.shift();
          // The path ends while this effect is still running: it must not answer at all.
          if (!next) return new Promise<T>(() => {});
          if (!next.ok) throw next.value;
          return next.value as T;
        });
      const clock = new SimulatedClock();
      const machine = hostMachineWithClock(() => clock.now()).provide({
        actors: { preflight: effect<PreflightResult>('preflight'), apply: effect('apply'), verify: effect<CheckRound>('verify'), restore: effect('restore') },
      });
      const actor = createActor(machine, { input, clock }).start();
      const settle = () => new Promise((r) => setTimeout(r, 0));
      for (const step of path.steps) {
        const event = step.event as AnyEventObject & { output?: unknown; error?: unknown };
        if (event.type === 'START') actor.send({ type: 'START' });
        else if (event.type.startsWith('xstate.after.soakInterval')) clock.increment(SOAK_INTERVAL_MS);
        else if (event.type.startsWith('xstate.after.soakRemaining')) clock.increment(SOAK_MS);
        await settle();
      }
      expect(stateName(actor.getSnapshot()), `path to ${stateName(path.state)}`).toBe(stateName(path.state));
      actor.stop();
    }
  });

  it('resumes a soak after a restart with only the time that was left', async () => {
    const clock = new SimulatedClock();
    clock.set(50_000);
    const verify = fromPromise<CheckRound, EffectInput>(async () => round(true));
    const machine = hostMachineWithClock(() => clock.now()).provide({ actors: { verify } });
    const actor = createActor(machine, { input: { ...input, soakIntervalMs: 60_000, resumeFrom: 'soaking', soakUntil: 53_000 }, clock }).start();
    clock.increment(2_999);
    expect(actor.getSnapshot().value).toEqual({ soaking: 'waiting' });
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('confirmed');
  });
});
