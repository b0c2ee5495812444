import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { LEADER } from '../../src/etcd/keys.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';

/**
 * A leader under load keeps its lease: busy-loop child processes take the CPU (two cores, more
 * loops than cores), and the leader's own thread does synchronous work for longer than the
 * lease TTL at a time, as a reconciler compiling a large fleet does.
 */
const child = fileURLToPath(new URL('../support/leader-under-load.ts', import.meta.url));
const TTL_S = 2;
let etcd: EtcdCluster;
let client: EtcdClient;
const spawned = new Set<ChildProcess>();

beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
});
afterAll(async () => {
  for (const p of spawned) p.kill('SIGKILL');
  client?.close();
  await etcd?.close();
});

describe('leadership under load', () => {
  it('keeps the lease while busy loops hog the CPU and the leader blocks its own thread beyond the TTL', { timeout: 60_000 }, async () => {
    const hogs: ChildProcess[] = [];
    try {
      const leader = spawn(process.execPath, ['--import', 'tsx', child, etcd.localStoreUrl, String(TTL_S), String(TTL_S * 1000 + 800), '6000'], { stdio: ['ignore', 'pipe', 'pipe'] });
      spawned.add(leader);
      let out = '';
      leader.stdout!.on('data', (d: Buffer) => (out += String(d)));
      leader.stderr!.on('data', (d: Buffer) => (out += String(d)));
      const exited = new Promise<number | null>((r) => leader.once('exit', r));
      const deadline = Date.now() + 30_000;
      while (!out.includes('"elected"') && Date.now() < deadline && leader.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      const elected = JSON.parse(out.split('\n').find((l) => l.includes('"elected"'))!) as { elected: string };
      // The CPU is taken from the moment it leads (started earlier, they only slow its start-up).
      for (let i = 0; i < 3; i++) hogs.push(spawn(process.execPath, ['-e', 'const end = Date.now() + 30000; while (Date.now() < end) {}'], { stdio: 'ignore' }));
      for (const h of hogs) spawned.add(h);
      // Watched from outside the whole time: the key never disappears or changes hands.
      const seen = new Set<string>();
      while (leader.exitCode === null && Date.now() < deadline + 20_000) {
        const kv = await client.get(LEADER);
        if (out.includes('"lost"')) break;
        seen.add(kv?.createRevision ?? 'none');
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(await exited, out).toBe(0);
      const result = JSON.parse(out.split('\n').find((l) => l.includes('"lost"'))!) as { blocks: number; lost: boolean; why: string | null };
      expect(result.blocks, out).toBeGreaterThanOrEqual(2);
      expect(result, out).toMatchObject({ lost: false });
      expect([...seen]).toEqual([elected.elected]);
      expect(out).not.toMatch(/LeadershipLost/);
    } finally {
      for (const h of hogs) {
        h.kill('SIGKILL');
        spawned.delete(h);
      }
    }
  });
});
