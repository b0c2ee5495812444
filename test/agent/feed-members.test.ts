import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SSH_FAILSAFE_CHECK } from '../../src/checks/check-spec.js';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { EtcdEventStore } from '../../src/etcd/event-store.js';
import { hostKey, sha256 } from '../../src/etcd/keys.js';
import { AgentHost } from '../../src/hosts/agent-host.js';
import { labDown, labPrerequisites, labUp, type LabDescription } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { BeforeSnapshots } from '../../src/rollout/before-snapshots.js';
import { failsafeChecks } from '../../src/reconciler/planner.js';
import { RolloutConfig } from '../../src/rollout/rollout-config.js';
import { startRollout } from '../../src/rollout/run-rollout.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { until } from '../support/fleet.js';
import { spawnCaptured } from '../support/process.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * The path-to-feed failsafe check over a three-member etcd (in the lab's management namespace)
 * with the FIRST member of the --store list stopped and quorum intact: the agent still reaches
 * etcd, so the check must pass and the rollout confirm the host.
 */
const pre = await labPrerequisites();
const tmp = useTmpDirs();
const NODE = 'node-a';
let lab: LabDescription;
let etcd: EtcdCluster;
let client: EtcdClient;
const agents = new Set<ChildProcess>();

beforeAll(async () => {
  if (!pre.ok) return;
  lab = await labUp([NODE]);
  etcd = await startEtcd({ members: 3, namespace: lab.management.namespace, address: lab.management.address });
  client = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
}, 60_000);
afterAll(async () => {
  for (const a of agents) a.kill('SIGKILL');
  client?.close();
  await etcd?.close();
  if (lab) await labDown(lab);
});

describe.skipIf(!pre.ok)('path to the feed with the first etcd member stopped', () => {
  it('passes through any member, so the host is confirmed', { timeout: 90_000 }, async () => {
    const ns = lab.hosts[0]!.namespace;
    const main = join(import.meta.dirname, '../../src/cli/main.ts');
    const agent = spawnCaptured('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', main, 'agent', '--node', NODE, '--store', etcd.storeUrl, '--netns', ns, '--state', await tmp('palisade-agent-'), '--lease-ttl', '3s']);
    agents.add(agent.proc);
    try {
      await until('agent facts', () => client.get(hostKey(NODE, 'facts')), 20_000);
      await etcd.stop(0);
      // Quorum intact: two of three answer.
      await until('etcd answering with one member down', () => client.get(hostKey(NODE, 'facts')), 20_000);

      // The failsafe checks exactly as `palisade reconcile --store` builds them from its endpoints.
      const checks = failsafeChecks({ failsafeChecks: [{ ...SSH_FAILSAFE_CHECK, timeoutMs: 1000 }], feedEndpoints: etcd.members.map((m) => ({ host: m.endpoint.split(':')[0]!, port: Number(m.endpoint.split(':')[1]) })) });
      const feed = checks.find((c) => c.name === 'path-to-feed')!;
      expect(feed).toMatchObject({ vantage: 'host', target: lab.management.address, port: 2379 });
      const text = 'table inet palisade {}\ndelete table inet palisade\ntable inet palisade {\n  chain input {\n    type filter hook input priority 0; policy accept;\n  }\n}\n';
      const store = new EtcdEventStore(client);
      const revision = `feed-${Date.now()}`;
      const output = await startRollout(
        revision,
        [{ name: 'canary', hosts: [NODE] }],
        RolloutConfig.parse({ checkAttempts: 1, soak: 0 }),
        [0],
        {
          store,
          logger: silentLogger(),
          drivers: new Map([[NODE, new AgentHost(NODE, lab.hosts[0]!.address, { etcd: client, managementNamespace: lab.management.namespace, confirmMs: 15_000, checks: () => checks })]]),
          snapshots: new BeforeSnapshots(await tmp('palisade-before-')),
          rulesetFor: () => ({ text, hash: sha256(text), program: null }),
          checksFor: () => checks,
          reachabilityChecks: new Set([SSH_FAILSAFE_CHECK.name]),
        },
      ).done;
      expect(output.results[NODE], agent.output()).toMatchObject({ result: 'confirmed' });
      const confirmed = (await store.read()).find((e) => e.type === 'HostTransition' && e.revision === revision && e.to === 'confirmed');
      const reported = confirmed?.type === 'HostTransition' ? confirmed.checks?.find((c) => c.name === 'path-to-feed') : undefined;
      expect(reported?.ok, JSON.stringify(reported)).toBe(true);
    } finally {
      await agent.kill();
      agents.delete(agent.proc);
      await etcd.start(0);
    }
  });
});
