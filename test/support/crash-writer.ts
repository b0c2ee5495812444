import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openSnapshotStore, replay } from '../../src/eventlog/snapshot.js';
import { planFor, tallyProjection } from './crash-plan.js';

/**
 * Child of the crash test: rebuilds its projection, then redoes ALL the planned work from the
 * first commit, as a reconciler that lost its memory would. Prints `ack <seq>` after each
 * acknowledged append, synchronously, so the parent knows what was promised before SIGKILL.
 */
const [dir, commitsArg] = process.argv.slice(2);
const commits = Number(commitsArg);
const store = await openFileEventStore(dir!);
const snapshots = openSnapshotStore(join(dir!, 'snapshots'));
await replay(store, tallyProjection, snapshots, { every: 100 });
writeSync(1, `ready ${await store.head()}\n`);
for (let c = 0; c < commits; c++) {
  const [first, second, third] = planFor(c);
  await Promise.all([store.append(first!), store.append(second!)]);
  writeSync(1, `ack ${await store.head()}\n`);
  await store.append(third!);
  writeSync(1, `ack ${await store.head()}\n`);
  if (c % 25 === 0) await replay(store, tallyProjection, snapshots, { every: 100 });
}
await store.close();
writeSync(1, 'done\n');
