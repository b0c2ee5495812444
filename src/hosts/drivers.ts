import { LAB_SERVICE_PORTS } from '../lab/lab.js';
import type { HostDriver } from './host-driver.js';
import type { CheckSpec } from '../checks/check-spec.js';
import type { EtcdClient } from '../etcd/client.js';
import type { Fence } from '../etcd/fence.js';
import { AgentHost } from './agent-host.js';
import { HostsFileError, type HostsFile } from './hosts-file.js';
import { NetnsHost } from './netns-host.js';
import { SimulatedHost } from './simulated-host.js';

/** What `agent` hosts need besides the hosts file: only `reconcile --store etcd://…` has it. */
export interface AgentDriverContext {
  etcd: EtcdClient;
  checksFor(host: string): readonly CheckSpec[];
  /** The leader's fence, so a deposed reconciler cannot write to hosts. */
  fence?: Fence;
  /** Default confirm window when the hosts file gives none. */
  confirmMs?: number;
}

export const DEFAULT_CONFIRM_MS = 30_000;

export function driversFromHostsFile(file: HostsFile, agents?: AgentDriverContext): Map<string, HostDriver> {
  const drivers = new Map<string, HostDriver>();
  for (const h of file.hosts) {
    if (h.kind === 'agent') {
      if (!agents) throw new HostsFileError(`host '${h.name}' is an agent host: it is reached through etcd, so reconcile needs --store etcd://HOST:PORT`);
      drivers.set(
        h.name,
        new AgentHost(h.name, h.address, {
          etcd: agents.etcd,
          managementNamespace: file.management.namespace ?? null,
          confirmMs: h.confirmMs ?? agents.confirmMs ?? DEFAULT_CONFIRM_MS,
          checks: () => agents.checksFor(h.name),
          ...(agents.fence ? { fence: agents.fence } : {}),
        }),
      );
      continue;
    }
    drivers.set(
      h.name,
      h.kind === 'netns'
        ? new NetnsHost(h.name, h.namespace, h.address, file.management.namespace ?? null)
        : new SimulatedHost(h.name, h.address, h.interfaces, file.management.address, new Set(LAB_SERVICE_PORTS)),
    );
  }
  return drivers;
}
