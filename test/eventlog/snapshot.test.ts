import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openSnapshotStore, replay, type Projection } from '../../src/eventlog/snapshot.js';
import { commitDraft } from '../support/events.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();

const messages: Projection<string[]> = {
  name: 'messages',
  version: 1,
  init: () => [],
  apply: (s, e) => (e.type === 'CommitObserved' ? [...s, e.message] : s),
};

async function logWith(n: number) {
  const dir = await tmp();
  const store = await openFileEventStore(join(dir, 'events'));
  await store.append(Array.from({ length: n }, (_, i) => commitDraft(i)));
  return { dir, store, snapshots: openSnapshotStore(join(dir, 'snapshots')) };
}

describe('replay with snapshots', () => {
  it('snapshots every N events and resumes from the snapshot with the same result', async () => {
    const { store, snapshots } = await logWith(25);
    const first = await replay(store, messages, snapshots, { every: 10 });
    expect(first).toMatchObject({ seq: 25, fromSnapshot: 0 });
    expect(first.state).toHaveLength(25);
    await store.append([commitDraft(25)]);
    const second = await replay(store, messages, snapshots, { every: 10 });
    expect(second.fromSnapshot).toBe(25); // snapshots land on batch boundaries once N events were folded
    expect(second.state).toEqual([...first.state, 'commit 25']);
    await store.close();
  });

  it('ignores a damaged snapshot, one of another version, and one ahead of the log', async () => {
    const { dir, store, snapshots } = await logWith(5);
    await replay(store, messages, snapshots, { every: 1 });
    const file = join(dir, 'snapshots', 'messages.snapshot.json');
    const good = await readFile(file, 'utf8');

    await writeFile(file, good.replace('commit 1', 'commit X'));
    expect(await replay(store, messages, snapshots)).toMatchObject({ fromSnapshot: 0, seq: 5 });

    await snapshots.save({ projection: 'messages', version: 1, seq: 99, state: ['from the future'] });
    expect(await replay(store, messages, snapshots)).toMatchObject({ fromSnapshot: 0, seq: 5 });

    await writeFile(file, good);
    expect((await replay(store, { ...messages, version: 2 }, snapshots)).fromSnapshot).toBe(0);
    expect((await replay(store, messages, snapshots)).fromSnapshot).toBe(5);
    await store.close();
  });
});
