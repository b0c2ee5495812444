import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { project } from '../../src/state/projections.js';

const STATES = ['preflight', 'applying', 'verifying', 'soaking', 'confirmed', 'rollingBack', 'verifyingRollback', 'rolledBack', 'failed'] as const;

describe('projection: confirmedOrder', () => {
  it('holds the hosts whose last transition was to confirmed, in the order of that transition', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ host: fc.constantFrom('a', 'b', 'c', 'd'), to: fc.constantFrom(...STATES) }), { maxLength: 40 }), (steps) => {
        const events = steps.map(
          ({ host, to }, i): PalisadeEvent => ({ type: 'HostTransition', revision: 'r1', key: `k${i}`, seq: i + 1, time: '', version: 1, host, wave: 0, from: 'queued', to }),
        );
        const lastTo = new Map<string, { to: string; at: number }>();
        steps.forEach(({ host, to }, at) => lastTo.set(host, { to, at }));
        const expected = [...lastTo].filter(([, l]) => l.to === 'confirmed').sort((x, y) => x[1].at - y[1].at).map(([h]) => h);
        expect(project(events).revisions.get('r1')?.confirmedOrder ?? []).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });
});
