import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { stateLayout } from '../../src/eventlog/layout.js';
import { openGitSource } from '../../src/git/source.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { parseNotifyFile, startNotifications, type Notifier } from '../../src/notify/index.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { startFakeGithub, startReceiver, type Receiver } from '../../test/support/receivers.js';
import { TestRepo } from '../../test/support/repo.js';
import { median } from '../support/scratch-ns.js';

/**
 * Does a dead notification provider slow a rollout? Commit → rollout completed over simulated
 * hosts, three ways interleaved per round: no notifications (the baseline), three healthy
 * providers (webhook, Slack, a fake GitHub), and the same three dead (connection refused, a
 * receiver that never answers, 500s). Figures are ratios to the baseline of the same run.
 *
 *   node --import tsx bench/notify/dead-provider.ts [HOSTS] [ROUNDS]
 */
const HOSTS = Number(process.argv[2] ?? 40);
const ROUNDS = Number(process.argv[3] ?? 5);
const TOKEN = 'ghp_benchtoken';

type Mode = 'none' | 'healthy' | 'dead';

async function once(mode: Mode): Promise<{ rolloutMs: number; deliveredMs: number | null }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-bench-notify-'));
  const receivers: Receiver[] = [];
  let notifier: Notifier | null = null;
  const store = await openFileEventStore(path.join(dir, 'state', 'events'));
  try {
    const names = Array.from({ length: HOSTS }, (_, i) => `node-${i}`);
    const address = (i: number) => `198.18.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    const heps = names.map((n, i) => `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: ${n}-eth0}\nspec: {node: ${n}, interfaceName: eth0, expectedIPs: ["${address(i)}"]}\n`).join('---\n');
    await repo.commit({ 'palisade.yaml': 'waves:\n  - count: 1\n  - name: rest\nsoak: 0\nsoakInterval: 10\ncheckAttempts: 1\nconcurrency: 8\n', 'hosts.yaml': heps }, 'fleet');
    const git = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(dir, 'state', 'git') });
    const drivers = new Map(names.map((n, i) => [n, new SimulatedHost(n, address(i), [{ name: 'eth0', addresses: [address(i)] }], '198.18.0.1', LAB_SERVICES)]));
    const reconciler = new Reconciler({ git, store, logger: silentLogger(), stateDir: path.join(dir, 'state'), drivers });
    await reconciler.load();
    if (mode !== 'none') {
      const hook = await startReceiver();
      const slack = await startReceiver(mode === 'dead' ? () => 'hang' : undefined);
      const gh = await startFakeGithub(TOKEN);
      if (mode === 'dead') {
        await hook.down();
        gh.answer = () => ({ status: 500, body: '{"message":"down"}' });
      }
      receivers.push(hook, slack, gh);
      const env = { HOOK_URL: `${hook.url}/h`, SLACK_URL: `${slack.url}/s`, GH_TOKEN: TOKEN };
      const file = `providers:\n  - {name: ops, type: webhook, urlEnv: HOOK_URL, timeout: 2s}\n  - {name: chat, type: slack, urlEnv: SLACK_URL, timeout: 2s}\n  - {name: gh, type: github, repository: a/b, tokenEnv: GH_TOKEN, apiUrl: "${gh.url}", timeout: 2s}\nalerts:\n  - {providers: [ops, chat, gh], on: [all]}\n`;
      const { config } = parseNotifyFile(file, 'notify.yaml', env);
      notifier = startNotifications(config!, { dir: stateLayout(path.join(dir, 'state')).notify, source: store, logger: silentLogger(), env, retry: { initialMs: 50, maxMs: 500 } });
      await notifier.ready;
    }
    const started = performance.now();
    const [result] = await reconciler.reconcile();
    const rolloutMs = performance.now() - started;
    if (result?.outcome !== 'completed') throw new Error(`rollout ended ${result?.outcome}`);
    let deliveredMs: number | null = null;
    if (mode === 'healthy' && (await notifier!.drain(await store.head(), 60_000))) deliveredMs = performance.now() - started;
    await git.close();
    return { rolloutMs, deliveredMs };
  } finally {
    await notifier?.stop();
    for (const r of receivers) await r.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

const results: Record<Mode, number[]> = { none: [], healthy: [], dead: [] };
const delivered: number[] = [];
await once('none'); // warm-up: module loading, JIT
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['none', 'healthy', 'dead'] as const) {
    const { rolloutMs, deliveredMs } = await once(mode);
    results[mode].push(rolloutMs);
    if (deliveredMs !== null) delivered.push(deliveredMs);
  }
}
const base = median(results.none);
const fmt = (ms: number) => `${ms.toFixed(0)} ms (${(ms / base).toFixed(2)}×)`;
console.log(`${HOSTS} simulated hosts, ${ROUNDS} interleaved rounds, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(`commit → rollout completed, median: no notifications ${base.toFixed(0)} ms (baseline)`);
console.log(`  three healthy providers: ${fmt(median(results.healthy))}`);
console.log(`  three dead providers:    ${fmt(median(results.dead))}`);
console.log(`commit → every notification delivered (healthy): ${fmt(median(delivered))}`);
