import { describe, expect, it } from 'vitest';
import type { Notification } from '../../src/notify/notifications.js';
import { commitStatusOf } from '../../src/notify/providers/github.js';

const base = { id: 'k', seq: 1, time: '2026-12-02T00:00:00.000Z', revision: 'a'.repeat(40), type: 'HostTransition' as const };
const confirmed = (k: number, total: number): Notification => ({ ...base, kind: 'confirmed', host: `n${k}`, progress: { confirmed: k, total } });

describe('GitHub commit statuses', () => {
  it('reports every host of a small fleet, and a big fleet in about 20 steps (GitHub keeps 1,000 per commit)', () => {
    const reported = (total: number) => Array.from({ length: total }, (_, i) => commitStatusOf(confirmed(i + 1, total))).filter((s) => s !== null);
    expect(reported(5).map((s) => s.description)).toEqual(['1/5 hosts confirmed', '2/5 hosts confirmed', '3/5 hosts confirmed', '4/5 hosts confirmed', '5/5 hosts confirmed']);
    const big = reported(5000);
    expect(big).toHaveLength(20);
    expect(big.at(-1)!.description).toBe('5000/5000 hosts confirmed');
    expect(big.every((s) => s.state === 'pending')).toBe(true);
  });

  it('keeps descriptions within 140 characters', () => {
    const s = commitStatusOf({ ...base, type: 'RolloutFinished', kind: 'halted', outcome: 'halted', failure: { host: 'node-a', check: `web: ${'x'.repeat(300)}` } });
    expect(s!.state).toBe('failure');
    expect(s!.description).toHaveLength(140);
    expect(s!.description.startsWith('halted: node-a: web: xxx')).toBe(true);
  });
});
