import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentStatus } from '../../src/agent/protocol.js';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { netnsNft, readTable } from '../../src/dataplane/index.js';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { EtcdEventStore } from '../../src/etcd/event-store.js';
import { hostKey, sha256 } from '../../src/etcd/keys.js';
import { AgentHost } from '../../src/hosts/agent-host.js';
import type { Ruleset } from '../../src/hosts/host-driver.js';
import { labDown, labPrerequisites, labUp, type LabDescription } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { BeforeSnapshots } from '../../src/rollout/before-snapshots.js';
import { RolloutConfig } from '../../src/rollout/rollout-config.js';
import { startRollout } from '../../src/rollout/run-rollout.js';
import { startEtcd, type EtcdCluster } from '../support/etcd.js';
import { until } from '../support/fleet.js';
import { spawnCaptured, type CapturedProcess } from '../support/process.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * Real agents: `palisade agent` processes inside lab host namespaces, applying with nft there,
 * reaching etcd (which runs in the lab's management namespace, 198.18.0.1) over veth.
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
  etcd = await startEtcd({ namespace: lab.management.namespace, address: lab.management.address });
  client = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
});
afterAll(async () => {
  for (const a of agents) a.kill('SIGKILL');
  client?.close();
  await etcd?.close();
  if (lab) await labDown(lab);
});

const ns = () => lab.hosts[0]!.namespace;

/** Each test starts from a host nobody has written to. */
beforeEach(async () => {
  if (pre.ok) await client.txn([], [{ del: '/palisade/v1/', prefix: true }]);
});

function startAgentProcess(stateDir: string): CapturedProcess {
  const main = join(import.meta.dirname, '../../src/cli/main.ts');
  const agent = spawnCaptured('ip', ['netns', 'exec', ns(), process.execPath, '--import', 'tsx', main, 'agent', '--node', NODE, '--store', etcd.storeUrl, '--netns', ns(), '--state', stateDir, '--lease-ttl', '3s']);
  agents.add(agent.proc);
  return {
    ...agent,
    kill: async () => {
      await agent.kill();
      agents.delete(agent.proc);
    },
  };
}

async function status(): Promise<AgentStatus | null> {
  const kv = await client.get(hostKey(NODE, 'status'));
  return kv ? AgentStatus.parse(JSON.parse(kv.value)) : null;
}

const TABLE_HEAD = 'table inet palisade {}\ndelete table inet palisade\n';
const rules = (name: string, policy: 'accept' | 'drop'): Ruleset => {
  const text = `${TABLE_HEAD}table inet palisade {\n  chain input {\n    type filter hook input priority 0; policy ${policy};\n    iifname "lo" accept comment "${name}-lo"\n  }\n  chain output {\n    type filter hook output priority 0; policy ${policy};\n    oifname "lo" accept comment "${name}-lo-out"\n  }\n}\n`;
  return { text, hash: sha256(text), program: null };
};
const ssh = CheckSpec.parse({ name: 'ssh-from-management', kind: 'tcp', port: 22, timeoutMs: 500 });
const hostDriver = (confirmMs: number, autoConfirm = true) =>
  new AgentHost(NODE, lab.hosts[0]!.address, { etcd: client, managementNamespace: lab.management.namespace, confirmMs, checks: () => [ssh], autoConfirm });

describe.skipIf(!pre.ok)('palisade agent in a lab namespace, etcd over veth', () => {
  it('applies through nft in its namespace and keeps the ruleset once checks pass and the reconciler confirms', async () => {
    const agent = startAgentProcess(await tmp('palisade-agent-'));
    try {
      await until('agent facts', () => client.get(hostKey(NODE, 'facts')), 20_000);
      const host = hostDriver(5000);
      expect((await host.readInterfaces()).find((i) => i.name === 'eth0')?.addresses).toContain(lab.hosts[0]!.address);
      await host.apply(rules('open', 'accept'));
      expect((await host.check(ssh)).ok).toBe(true);
      await until('confirmed', async () => (await status())?.state === 'confirmed');
      await new Promise((r) => setTimeout(r, 5500));
      expect(await readTable(netnsNft(ns()))).toContain('open-lo');
      expect((await status())?.state).toBe('confirmed');
    } finally {
      await agent.kill();
    }
  }, 60_000);

  it('a rule that cuts the path to etcd: the agent reverts by itself in the confirm window and the rollout records a rollback', async () => {
    const agent = startAgentProcess(await tmp('palisade-agent-'));
    try {
      await until('agent facts', () => client.get(hostKey(NODE, 'facts')), 20_000);
      const before = await readTable(netnsNft(ns()));
      const store = new EtcdEventStore(client);
      const revision = `cut-${Date.now()}`;
      const output = await startRollout(
        revision,
        [{ name: 'canary', hosts: [NODE] }],
        RolloutConfig.parse({ checkAttempts: 1 }),
        [0],
        {
          store,
          logger: silentLogger(),
          drivers: new Map([[NODE, hostDriver(4000)]]),
          snapshots: new BeforeSnapshots(await tmp('palisade-before-')),
          rulesetFor: () => rules('cut', 'drop'),
          checksFor: () => [ssh],
          reachabilityChecks: new Set([ssh.name]),
        },
      ).done;
      expect(output.results[NODE]?.result).toBe('rolledBack');
      const transitions = (await store.read()).filter((e) => e.type === 'HostTransition' && e.revision === revision).map((e) => (e as { to: string }).to);
      expect(transitions).toEqual(expect.arrayContaining(['applying', 'rollingBack', 'rolledBack']));
      expect(await readTable(netnsNft(ns()))).toBe(before);
      expect(agent.output()).toMatch(/no confirmation within the confirm window/);
    } finally {
      await agent.kill();
    }
  }, 90_000);

  it('an agent killed inside its confirm window reverts when it starts again', async () => {
    const stateDir = await tmp('palisade-agent-');
    const first = startAgentProcess(stateDir);
    await until('agent facts', () => client.get(hostKey(NODE, 'facts')), 20_000);
    const before = await readTable(netnsNft(ns()));
    const host = hostDriver(120_000, false);
    await host.apply(rules('risky', 'accept'));
    expect(await readTable(netnsNft(ns()))).toContain('risky-lo');
    await first.kill();
    const second = startAgentProcess(stateDir);
    try {
      await until('reverted on start', async () => (await status())?.state === 'reverted', 20_000);
      expect((await status())?.reason).toMatch(/restarted inside the confirm window/);
      expect(await readTable(netnsNft(ns()))).toBe(before);
    } finally {
      await second.kill();
    }
  }, 60_000);
});
