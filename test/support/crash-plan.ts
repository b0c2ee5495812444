import { crc32 } from 'node:zlib';
import type { EventDraft, PalisadeEvent } from '../../src/eventlog/events.js';
import type { Projection } from '../../src/eventlog/snapshot.js';

/**
 * The deterministic work of the crash test: per commit, three append calls (the first two
 * concurrent, so they share a group commit). Keys depend only on the commit, like the reconciler's.
 */
export function planFor(c: number): EventDraft[][] {
  const revision = `rev${String(c).padStart(5, '0')}`;
  return [
    [
      { type: 'CommitObserved', revision, key: `${revision}:observed`, parent: null, author: 'Ada <ada@example.org>', message: `commit ${c}`, committedAt: '2026-01-01T00:00:00.000Z' },
      { type: 'ResourcesChanged', revision, key: `${revision}:resources`, base: null, changes: [{ key: `GlobalNetworkPolicy/p${c}`, change: 'added' }] },
    ],
    [{ type: 'RolloutStarted', revision, key: `${revision}:rollout`, waves: [{ name: 'canary', hosts: ['h1'] }] }],
    [
      { type: 'HostTransition', revision, key: `${revision}:h1:applied`, host: 'h1', wave: 0, from: 'pending', to: 'applied' },
      { type: 'RolloutFinished', revision, key: `${revision}:finished`, outcome: 'completed', failedHosts: [], durationMs: c },
    ],
  ];
}

export const planKeys = (commits: number): string[] => Array.from({ length: commits }, (_, c) => planFor(c).flat().map((d) => d.key)).flat();

export interface Tally {
  events: number;
  byType: Record<string, number>;
  /** Order-sensitive fingerprint of every key folded. */
  chain: number;
  lastRevision: string | null;
}

export const tallyProjection: Projection<Tally> = {
  name: 'tally',
  version: 1,
  init: () => ({ events: 0, byType: {}, chain: 0, lastRevision: null }),
  apply(s: Tally, e: PalisadeEvent): Tally {
    s.events++;
    s.byType[e.type] = (s.byType[e.type] ?? 0) + 1;
    s.chain = crc32(e.key, s.chain);
    s.lastRevision = e.revision;
    return s;
  },
};
