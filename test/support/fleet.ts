import { spawnCaptured, type CapturedProcess } from './process.js';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.js';
import { memoryDataplane, type AgentDataplane } from '../../src/agent/dataplane.js';
import { AgentStatus } from '../../src/agent/protocol.js';
import { EtcdClient } from '../../src/etcd/client.js';
import { hostKey } from '../../src/etcd/keys.js';
import { silentLogger } from '../../src/log/logger.js';

/** In-process agents with an in-memory dataplane (optionally slow), and HA reconciler processes. */

export const hostNames = (n: number) => Array.from({ length: n }, (_, i) => `node-${i + 1}`);

/** The i-th fleet host's address: 198.18.0.11 onwards, through 198.18.0.0/15 for large fleets. */
export const fleetAddress = (i: number) => `198.18.${Math.floor((i + 11) / 256)}.${(i + 11) % 256}`;

/** Policy for `hosts`: one HEP each on eth0, web allowed. */
export function fleetPolicy(hosts: string[], port = 80): Record<string, string> {
  const heps = hosts
    .map(
      (h, i) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${h}-eth0
  labels:
    role: worker
spec:
  node: ${h}
  interfaceName: eth0
  expectedIPs: ["${fleetAddress(i)}"]
`,
    )
    .join('---\n');
  return {
    'hosts.yaml': heps,
    'web.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: web
spec:
  order: 100
  selector: role == 'worker'
  ingress:
    - action: Allow
      protocol: TCP
      destination:
        ports: [${port}]
  egress:
    - action: Allow
`,
  };
}

export interface FleetAgent {
  node: string;
  agent: Agent;
  dataplane: AgentDataplane & { applies: number };
  stop(): Promise<void>;
}

export async function startFleetAgents(endpoints: string[], hosts: string[], stateRoot: string, opts: { applyDelayMs?: number } = {}): Promise<FleetAgent[]> {
  return Promise.all(
    hosts.map(async (node, i) => {
      const etcd = new EtcdClient(endpoints);
      const mem = memoryDataplane();
      const dataplane = { ...mem, apply: async (text: string) => {
        if (opts.applyDelayMs) await new Promise((r) => setTimeout(r, opts.applyDelayMs));
        await mem.apply(text);
        dataplane.applies = mem.applies;
      } } as AgentDataplane & { applies: number };
      const agent = new Agent({
        node,
        etcd,
        dataplane,
        stateDir: join(stateRoot, node),
        logger: silentLogger(),
        leaseTtlS: 3,
        probe: async (c) => ({ name: c.name, ok: true, detail: 'in-process' }),
        readInterfaces: async () => [{ name: 'eth0', addresses: [fleetAddress(i)] }],
      });
      await agent.start();
      return {
        node,
        agent,
        dataplane,
        stop: async () => {
          await agent.stop();
          etcd.close();
        },
      };
    }),
  );
}

export async function writeAgentHostsFile(file: string, hosts: string[]): Promise<void> {
  await writeFile(file, JSON.stringify({ management: { address: '127.0.0.1' }, hosts: hosts.map((name) => ({ kind: 'agent', name, address: '127.0.0.1' })) }));
}

export async function statuses(etcd: EtcdClient, hosts: string[]): Promise<Map<string, AgentStatus | null>> {
  const out = new Map<string, AgentStatus | null>();
  for (const h of hosts) {
    const kv = await etcd.get(hostKey(h, 'status'));
    out.set(h, kv ? AgentStatus.parse(JSON.parse(kv.value)) : null);
  }
  return out;
}

/** A TCP service on loopback for the reconciler's controller-vantage check. */
export async function startCheckService(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

export type ReconcilerProcess = CapturedProcess;

/** `cpuProfile`: where the process writes its CPU profile when it gets SIGTERM; `outputFile`: its logs go to that file, not a pipe. */
export function startReconcilerProcess(args: { storeUrl: string; repo: string; hostsFile: string; stateDir: string; checkPort: number; cpuProfile?: string; outputFile?: string }): ReconcilerProcess {
  const env = args.cpuProfile ? { ...process.env, PALISADE_CPU_PROFILE: args.cpuProfile } : process.env;
  return spawnCaptured(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'ha-reconciler-main.ts'), args.storeUrl, args.repo, args.hostsFile, args.stateDir, String(args.checkPort)], env, args.outputFile ? { outputFile: args.outputFile } : {});
}

export { until } from './until.js';
