import { writeSync } from 'node:fs';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { campaign } from '../../src/etcd/leader.js';
import { createLogger } from '../../src/log/logger.js';

/**
 * Child of the leadership-under-load test: wins the election with a short lease, then keeps its
 * own thread busy the way a reconciler compiling a large fleet does — synchronous work longer
 * than the lease TTL, with short breaks — and says whether it was still the leader at the end.
 */
const [storeUrl, ttlArg, busyArg, totalArg] = process.argv.slice(2) as [string, string, string, string];
const ttlS = Number(ttlArg);
const etcd = new EtcdClient(parseStoreUrl(storeUrl));
const leadership = await campaign(etcd, { id: `load-test:${process.pid}`, logger: createLogger({}), ttlS });
writeSync(1, `${JSON.stringify({ elected: leadership.fence.createRevision })}\n`);
const end = Date.now() + Number(totalArg);
let blocks = 0;
while (Date.now() < end && !leadership.signal.aborted) {
  const until = Date.now() + Number(busyArg);
  let x = 0;
  while (Date.now() < until) x += Math.sqrt(x + 1);
  blocks++;
  await new Promise((r) => setTimeout(r, 20));
}
writeSync(1, `${JSON.stringify({ blocks, lost: leadership.signal.aborted, why: leadership.signal.aborted ? String((leadership.signal.reason as Error).message) : null })}\n`);
await leadership.resign();
etcd.close();
