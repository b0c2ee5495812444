/**
 * Appends per second with fsync: Palisade's group commit under many concurrent appenders,
 * next to a baseline measured in the same run — one raw write + fdatasync per record, which is
 * what an append costs without group commit. Target: >= 20,000 appends/s.
 * Run: node --import tsx bench/eventlog/append.ts
 */
import { open, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventDraft } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { encodeRecord } from '../../src/eventlog/record.js';

const EVENTS = 100_000;
const APPENDERS = 512;
const BASELINE_RECORDS = 2_000;

const draft = (i: number): EventDraft => ({ type: 'HostTransition', revision: 'f'.repeat(40), key: `bench:${i}`, host: `host-${i % 1000}`, wave: i % 4, from: 'applying', to: 'verifying', rulesetHash: 'sha256:' + 'a'.repeat(64) });

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-append-'));
  try {
    const record = encodeRecord(Buffer.from(JSON.stringify({ seq: 1, time: new Date().toISOString(), version: 1, ...draft(0) })));
    const fh = await open(join(dir, 'baseline'), 'w');
    let t = process.hrtime.bigint();
    for (let i = 0; i < BASELINE_RECORDS; i++) {
      await fh.write(record, 0, record.length, i * record.length);
      await fh.datasync();
    }
    const baseline = BASELINE_RECORDS / (Number(process.hrtime.bigint() - t) / 1e9);
    await fh.close();

    const store = await openFileEventStore(join(dir, 'log'));
    let next = 0;
    t = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: APPENDERS }, async () => {
        while (next < EVENTS) await store.append([draft(next++)]);
      }),
    );
    const grouped = EVENTS / (Number(process.hrtime.bigint() - t) / 1e9);

    t = process.hrtime.bigint();
    for (let i = 0; i < 2_000; i++) await store.append([draft(EVENTS + i)]);
    const sequential = 2_000 / (Number(process.hrtime.bigint() - t) / 1e9);
    if ((await store.head()) !== EVENTS + 2_000) throw new Error('lost appends');
    await store.close();

    console.log(`record size ${record.length} B`);
    console.log(`baseline: write + fdatasync per record          ${baseline.toFixed(0).padStart(8)} records/s`);
    console.log(`palisade: one appender, awaiting each append     ${sequential.toFixed(0).padStart(8)} appends/s  (${(sequential / baseline).toFixed(2)}x baseline)`);
    console.log(
      `palisade: ${APPENDERS} concurrent appenders (group commit) ${grouped.toFixed(0).padStart(8)} appends/s  (${(grouped / baseline).toFixed(1)}x baseline; target >= 20,000/s ${grouped >= 20_000 ? 'OK' : 'MISSED'})`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
