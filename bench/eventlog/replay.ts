/**
 * Replay of 1,000,000 events through a projection, next to a baseline measured in the same
 * run: JSON.parse of the same records already in memory (the floor for any JSON log).
 * Target: >= 500,000 events/s.
 * Run: node --import tsx bench/eventlog/replay.ts
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventDraft, PalisadeEvent } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { replay, type Projection } from '../../src/eventlog/snapshot.js';

const EVENTS = 1_000_000;
const CHUNK = 5_000;

const draft = (i: number): EventDraft => ({ type: 'HostTransition', revision: 'f'.repeat(40), key: `bench:${i}`, host: `host-${i % 1000}`, wave: i % 4, from: 'applying', to: 'verifying' });

const hostStates: Projection<Map<string, string>> = {
  name: 'bench-hosts',
  version: 1,
  init: () => new Map(),
  apply: (s, e: PalisadeEvent) => (e.type === 'HostTransition' ? s.set(e.host, e.to) : s),
};

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-replay-'));
  try {
    let store = await openFileEventStore(dir);
    for (let i = 0; i < EVENTS; i += CHUNK) await store.append(Array.from({ length: CHUNK }, (_, j) => draft(i + j)));
    const bytes = store.sizeBytes();
    await store.close();

    const sample = Array.from({ length: 100_000 }, (_, i) => Buffer.from(JSON.stringify({ seq: i + 1, time: new Date().toISOString(), version: 1, ...draft(i) })));
    let t = process.hrtime.bigint();
    let n = 0;
    for (const b of sample) n += (JSON.parse(b.toString('utf8')) as { seq: number }).seq > 0 ? 1 : 0;
    const baseline = n / (Number(process.hrtime.bigint() - t) / 1e9);

    t = process.hrtime.bigint();
    store = await openFileEventStore(dir);
    const openSeconds = Number(process.hrtime.bigint() - t) / 1e9;
    t = process.hrtime.bigint();
    const result = await replay(store, hostStates);
    const seconds = Number(process.hrtime.bigint() - t) / 1e9;
    if (result.seq !== EVENTS || result.state.size !== 1000) throw new Error('replay incomplete');
    await store.close();
    const rate = EVENTS / seconds;
    console.log(`log: ${EVENTS.toLocaleString('en')} events, ${(bytes / 2 ** 20).toFixed(0)} MiB`);
    console.log(`baseline: JSON.parse from memory              ${baseline.toFixed(0).padStart(9)} events/s`);
    console.log(`palisade: open (checks + key index rebuild)   ${(EVENTS / openSeconds).toFixed(0).padStart(9)} events/s  (${openSeconds.toFixed(2)} s)`);
    console.log(`palisade: replay from disk through projection ${rate.toFixed(0).padStart(9)} events/s  (${seconds.toFixed(2)} s; ${(rate / baseline).toFixed(2)}x baseline; target >= 500,000/s ${rate >= 500_000 ? 'OK' : 'MISSED'})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
