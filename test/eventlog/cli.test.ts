import { describe, expect, it } from 'vitest';
import { runEvents } from '../../src/cli/events.js';
import { runHistory } from '../../src/cli/history.js';
import { main } from '../../src/cli/main.js';
import type { EventDraft } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { stateLayout } from '../../src/eventlog/layout.js';
import { commitDraft } from '../support/events.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();

function capture(signal?: AbortSignal) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) }, signal }, out, err };
}

const drafts = (): EventDraft[] => [
  commitDraft(1, 'aaaaaaaaaaaa1'),
  { type: 'RolloutStarted', revision: 'aaaaaaaaaaaa1', key: 'aaaaaaaaaaaa1:rollout', waves: [{ name: 'canary', hosts: ['h1'] }] },
  { type: 'HostTransition', revision: 'aaaaaaaaaaaa1', key: 'aaaaaaaaaaaa1:h1', host: 'h1', wave: 0, from: 'pending', to: 'verified' },
  { type: 'RolloutFinished', revision: 'aaaaaaaaaaaa1', key: 'aaaaaaaaaaaa1:done', outcome: 'completed', failedHosts: [], durationMs: 1500 },
  commitDraft(2, 'bbbbbbbbbbbb2'),
  { type: 'CommitRejected', revision: 'bbbbbbbbbbbb2', key: 'bbbbbbbbbbbb2:rejected', errors: [{ code: 'E', file: 'p.yaml', line: 3, col: 5, message: 'bad port' }] },
  { type: 'HistoryRewritten', revision: 'cccccccccccc3', key: 'cccccccccccc3:rewritten', previousHead: 'bbbbbbbbbbbb2', newHead: 'cccccccccccc3' },
  commitDraft(3, 'cccccccccccc3'),
];

async function stateWithLog() {
  const state = await tmp();
  const store = await openFileEventStore(stateLayout(state).events);
  await store.append(drafts());
  return { state, store };
}

describe('palisade events', () => {
  it('prints events after --since, filtered by --type, as text or JSON', async () => {
    const { state, store } = await stateWithLog();
    const all = capture();
    expect(await runEvents(['--state', state], all.io)).toBe(0);
    expect(all.out).toHaveLength(8);
    expect(all.out[3]).toMatch(/^\s+4 .* RolloutFinished\s+aaaaaaaaaa\s+completed in 1\.5s\n$/);

    const some = capture();
    expect(await runEvents(['--state', state, '--since', '2', '--type', 'CommitObserved,CommitRejected', '--json'], some.io)).toBe(0);
    expect(some.out.map((l) => JSON.parse(l) as { seq: number; type: string }).map((e) => `${e.seq} ${e.type}`)).toEqual(['5 CommitObserved', '6 CommitRejected', '8 CommitObserved']);
    await store.close();
  });

  it('follows new events until the signal aborts', async () => {
    const { state, store } = await stateWithLog();
    const ac = new AbortController();
    const c = capture(ac.signal);
    const running = runEvents(['--state', state, '--since', '8', '--follow', '--json'], c.io);
    await store.append([commitDraft(9)]);
    for (let i = 0; i < 100 && c.out.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    ac.abort();
    expect(await running).toBe(0);
    expect(c.out.map((l) => (JSON.parse(l) as { key: string }).key)).toEqual(['c9:CommitObserved']);
    await store.close();
  });

  it('fails clearly on usage errors and a missing log', async () => {
    const c = capture();
    expect(await main(['events'], c.io)).toBe(2);
    expect(await main(['events', '--state', '/x', '--since', 'abc'], c.io)).toBe(2);
    expect(c.err.join('')).toContain("palisade events: --since must be a whole number ≥ 0, got 'abc'");
    expect(await runEvents(['--state', await tmp()], c.io)).toBe(1);
    expect(c.err.join('')).toContain('no event log');
  });
});

describe('palisade history', () => {
  it('prints one line per revision with outcome and duration', async () => {
    const { state, store } = await stateWithLog();
    const c = capture();
    expect(await runHistory(['--state', state], c.io)).toBe(0);
    expect(c.out).toHaveLength(3);
    expect(c.out[0]).toMatch(/^aaaaaaaaaa .*Ada <ada@example.org>\s+completed\s+1\.5s\s+commit 1\n$/);
    expect(c.out[1]).toMatch(/^bbbbbbbbbb .*rejected\s+-\s+commit 2\n$/);
    expect(c.out[2]).toMatch(/observed .*\[after force-push\] commit 3\n$/);
    const j = capture();
    expect(await runHistory(['--state', state, '--json'], j.io)).toBe(0);
    expect(JSON.parse(j.out[0]!)).toMatchObject({ revision: 'aaaaaaaaaaaa1', outcome: 'completed', durationMs: 1500 });
    await store.close();
  });
});
