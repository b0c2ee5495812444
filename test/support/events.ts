import type { EventDraft } from '../../src/eventlog/events.js';

export const commitDraft = (i: number, revision = `c${i}`): EventDraft => ({
  type: 'CommitObserved',
  revision,
  key: `${revision}:CommitObserved`,
  parent: null,
  author: 'Ada <ada@example.org>',
  message: `commit ${i}`,
  committedAt: '2026-01-01T00:00:00.000Z',
});
