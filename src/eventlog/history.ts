import type { PalisadeEvent } from './events.js';
import type { Projection } from './snapshot.js';

export type RevisionOutcome = 'observed' | 'rejected' | 'rolling-out' | 'completed' | 'halted' | 'rolledBack' | 'aborted' | 'superseded';

export interface RevisionRecord {
  revision: string;
  author: string;
  message: string;
  committedAt: string;
  /** When the commit was first recorded. */
  observedAt: string;
  outcome: RevisionOutcome;
  durationMs: number | null;
  failedHosts: string[];
  /** A force-push replaced history before this revision. */
  afterRewrite: boolean;
}

export interface History {
  revisions: RevisionRecord[];
  /** revision → index in `revisions`. */
  index: Record<string, number>;
  rewritePending: boolean;
}

/** One record per revision, in the order they were observed: what `palisade history` prints. */
export const historyProjection: Projection<History> = {
  name: 'history',
  version: 1,
  init: () => ({ revisions: [], index: {}, rewritePending: false }),
  apply(h, e: PalisadeEvent) {
    if (e.type === 'HistoryRewritten') {
      h.rewritePending = true;
      return h;
    }
    if (e.type === 'CommitObserved') {
      if (h.index[e.revision] !== undefined) return h;
      h.index[e.revision] = h.revisions.length;
      h.revisions.push({
        revision: e.revision,
        author: e.author,
        message: e.message,
        committedAt: e.committedAt,
        observedAt: e.time,
        outcome: 'observed',
        durationMs: null,
        failedHosts: [],
        afterRewrite: h.rewritePending,
      });
      h.rewritePending = false;
      return h;
    }
    const i = h.index[e.revision];
    const r = i === undefined ? undefined : h.revisions[i];
    if (!r) return h;
    if (e.type === 'CommitRejected') r.outcome = 'rejected';
    else if (e.type === 'RolloutStarted') r.outcome = 'rolling-out';
    else if (e.type === 'RolloutFinished') {
      r.outcome = e.outcome;
      r.durationMs = e.durationMs;
      r.failedHosts = e.failedHosts;
    }
    return h;
  },
};
