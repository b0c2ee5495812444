import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import { describe, expect, it } from 'vitest';
import type { AnyEventObject, SnapshotFrom } from 'xstate';
import type { HostOutput } from '../../src/eventlog/events.js';
import { rolloutMachine, type RolloutInput } from '../../machines/rollout.js';

/**
 * Model-based tests of the rollout machine: @xstate/graph walks every reachable state of a
 * small rollout (a canary, then a wave of two, one host at a time) under every order of host
 * outcomes and operator requests. The event alphabet is derived from the snapshot — a done
 * event for each running host run, plus PAUSE/RESUME/ABORT/SUPERSEDE — and states are
 * serialised by what the rollout can observe, so the space stays finite.
 */

type Snap = SnapshotFrom<typeof rolloutMachine>;

const input = (onFailure: RolloutInput['onFailure']): RolloutInput => ({
  revision: 'r1',
  waves: [
    { name: 'canary', hosts: ['a'] },
    { name: 'rest', hosts: ['b', 'c'] },
  ],
  concurrency: 1,
  maxFailures: [0],
  onFailure,
  soakMs: 0,
  soakIntervalMs: 10,
});

const running = (s: Snap) => [...s.context.active].sort();
const done = (id: string, result: HostOutput['result']) => ({
  type: 'HOST_DONE',
  actorId: id,
  output: { host: id.slice(id.indexOf(':') + 1), result, reason: result === 'confirmed' ? null : 'checks failed', checks: [] } satisfies HostOutput,
});

function eventsFor(s: Snap): AnyEventObject[] {
  if (s.status === 'done') return [];
  const hosts = running(s).flatMap((id) => (id.startsWith('undo:') ? [done(id, 'rolledBack')] : [done(id, 'confirmed'), done(id, 'rolledBack')]));
  return [...hosts, { type: 'PAUSE' }, { type: 'RESUME' }, { type: 'ABORT' }, { type: 'SUPERSEDE' }];
}

const key = (s: Snap) =>
  JSON.stringify({
    value: s.value,
    running: running(s),
    paused: s.context.paused,
    stopping: s.context.stopping,
    wave: s.context.waveIndex,
    pending: s.context.pending,
    settled: s.output?.results ?? null,
  });

const traversal = (onFailure: RolloutInput['onFailure']) => ({
  input: input(onFailure),
  events: eventsFor as unknown as (s: Snap) => { type: 'PAUSE' }[],
  serializeState: key,
});

/** Which host runs were started along a path, in order (a new id in `active` is a start). */
function startsAlong(path: { steps: { state: Snap; event: AnyEventObject }[] }): { id: string; afterEvent: string; paused: boolean; stopping: unknown }[] {
  const starts: { id: string; afterEvent: string; paused: boolean; stopping: unknown }[] = [];
  let before = new Set<string>();
  for (const step of path.steps) {
    const now = running(step.state);
    for (const id of now) if (!before.has(id)) starts.push({ id, afterEvent: step.event.type, paused: step.state.context.paused, stopping: step.state.context.stopping });
    before = new Set(now);
  }
  return starts;
}

describe('rollout machine model', () => {
  for (const onFailure of ['halt', 'rollback'] as const) {
    describe(`onFailure: ${onFailure}`, () => {
      const paths = getShortestPaths(rolloutMachine, traversal(onFailure));
      const finals = getSimplePaths(rolloutMachine, traversal(onFailure)).filter((p) => p.state.status === 'done');

      it('stays bounded and reaches every outcome it should', () => {
        expect(paths.length).toBeGreaterThan(10);
        expect(paths.length).toBeLessThan(400);
        const outcomes = new Set(finals.map((p) => p.state.output!.outcome));
        // With rollback, a failure before any host was confirmed has nothing to undo: it halts.
        expect([...outcomes].sort()).toEqual(onFailure === 'halt' ? ['aborted', 'completed', 'halted', 'superseded'] : ['aborted', 'completed', 'halted', 'rolledBack', 'superseded']);
      });

      it('starts each host at most once, the canary alone and first, and nothing after a stop', () => {
        for (const path of finals) {
          const starts = startsAlong(path);
          const hostStarts = starts.filter((s) => s.id.startsWith('host:')).map((s) => s.id);
          expect(new Set(hostStarts).size, JSON.stringify(hostStarts)).toBe(hostStarts.length);
          expect(hostStarts[0]).toBe('host:a');
          for (const s of starts.filter((s) => s.id.startsWith('host:'))) {
            // A host starts because a host settled (or a resume) — never on a stop request.
            expect(['ABORT', 'SUPERSEDE', 'PAUSE']).not.toContain(s.afterEvent);
            expect(s.stopping).toBeNull();
            expect(s.paused).toBe(false);
          }
        }
      });

      it('ends each path with the outcome its host results call for', () => {
        for (const path of finals) {
          const { outcome, results, failedHosts } = path.state.output!;
          const values = Object.values(results);
          if (outcome === 'completed') {
            expect(values.map((r) => r.result)).toEqual(['confirmed', 'confirmed', 'confirmed']);
          }
          if (outcome === 'halted') {
            expect(failedHosts.length).toBeGreaterThan(0);
            if (onFailure === 'rollback') expect(values.some((r) => r.result === 'confirmed')).toBe(false);
            // The waves after the failing one never started.
            if (results.a?.result !== 'confirmed') expect(Object.keys(results)).toEqual(['a']);
          }
          if (outcome === 'rolledBack') {
            // Every host that had been confirmed was undone.
            expect(values.every((r) => r.result === 'rolledBack')).toBe(true);
            expect(startsAlong(path).some((s) => s.id.startsWith('undo:'))).toBe(true);
          }
          if (outcome === 'aborted' || outcome === 'superseded') {
            expect(path.steps.some((s) => s.event.type === (outcome === 'aborted' ? 'ABORT' : 'SUPERSEDE'))).toBe(true);
          }
        }
      });
    });
  }
});
