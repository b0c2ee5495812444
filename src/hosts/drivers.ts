import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CheckSpec } from '../checks/check-spec.js';
import type { EtcdClient } from '../etcd/client.js';
import type { Fence, PutWriter } from '../etcd/fence.js';
import type { HostKeyReader } from '../etcd/host-feed.js';
import type { RulesetWriter } from '../etcd/rulesets.js';
import { LAB_SERVICES } from '../lab/lab.js';
import { AgentHost } from './agent-host.js';
import type { HostDriver } from './host-driver.js';
import { HostsFileError, type HostEntry, type HostsFile } from './hosts-file.js';
import { LocalHost } from './local-host.js';
import { NetnsHost } from './netns-host.js';
import { SimulatedHost } from './simulated-host.js';
import { SshHost } from './ssh-host.js';

/** What `agent` hosts need besides the hosts file: only `reconcile --store etcd://…` has it. */
export interface AgentDriverContext {
  etcd: EtcdClient;
  checksFor(host: string): readonly CheckSpec[];
  /** The leader's fence, so a deposed reconciler cannot write to hosts. */
  fence?: Fence;
  /** Default confirm window when the hosts file gives none. */
  confirmMs?: number;
  /** Shared by every agent host: one watch over all hosts' keys, and batched fenced writes. */
  keys?: HostKeyReader;
  write?: PutWriter;
  rulesets?: RulesetWriter;
}

export const DEFAULT_CONFIRM_MS = 30_000;

function driverFor(h: HostEntry, file: HostsFile, agents: AgentDriverContext | undefined): HostDriver {
  switch (h.kind) {
    case 'netns':
      return new NetnsHost(h.name, h.namespace, h.address, file.management.namespace ?? null);
    case 'local':
      return new LocalHost(h.name, h.address, { manageThisMachine: h.manageThisMachine });
    case 'simulated':
      return new SimulatedHost(h.name, h.address, h.interfaces, file.management.address, LAB_SERVICES);
    case 'ssh':
      return new SshHost(h.name, h.address, {
        user: h.user,
        port: h.port,
        identityFile: h.identityFile ?? defaultIdentity(),
        knownHostsFile: h.knownHostsFile ?? path.join(os.homedir(), '.ssh', 'known_hosts'),
        acceptNewHostKey: h.acceptNewHostKey,
        confirmMs: h.confirmMs ?? DEFAULT_CONFIRM_MS,
        stateDir: h.stateDir,
        managementNamespace: file.management.namespace ?? null,
      });
    case 'agent':
      if (!agents) throw new HostsFileError(`host '${h.name}' is an agent host: it is reached through etcd, so reconcile needs --store etcd://HOST:PORT`);
      return new AgentHost(h.name, h.address, {
        etcd: agents.etcd,
        managementNamespace: file.management.namespace ?? null,
        confirmMs: h.confirmMs ?? agents.confirmMs ?? DEFAULT_CONFIRM_MS,
        checks: () => agents.checksFor(h.name),
        ...(agents.fence ? { fence: agents.fence } : {}),
        ...(agents.keys ? { keys: agents.keys } : {}),
        ...(agents.write ? { write: agents.write } : {}),
        ...(agents.rulesets ? { rulesets: agents.rulesets } : {}),
      });
  }
}

/** The key `ssh` itself would try first. */
function defaultIdentity(): string {
  const dir = path.join(os.homedir(), '.ssh');
  const found = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => path.join(dir, f)).find((f) => existsSync(f));
  return found ?? path.join(dir, 'id_ed25519');
}

/** Closes what drivers hold open (SSH connections), so a finished command can exit. */
export async function closeDrivers(drivers: ReadonlyMap<string, HostDriver>): Promise<void> {
  await Promise.all([...drivers.values()].map((d) => d.close?.()));
}

export function driversFromHostsFile(file: HostsFile, agents?: AgentDriverContext): Map<string, HostDriver> {
  return new Map(file.hosts.map((h) => [h.name, driverFor(h, file, agents)]));
}
