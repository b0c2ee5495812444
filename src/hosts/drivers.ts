import { LAB_SERVICES } from '../lab/lab.js';
import type { HostDriver } from './host-driver.js';
import type { HostsFile } from './hosts-file.js';
import { NetnsHost } from './netns-host.js';
import { SimulatedHost } from './simulated-host.js';

export function driversFromHostsFile(file: HostsFile): Map<string, HostDriver> {
  const drivers = new Map<string, HostDriver>();
  for (const h of file.hosts) {
    drivers.set(
      h.name,
      h.kind === 'netns'
        ? new NetnsHost(h.name, h.namespace, h.address, file.management.namespace ?? null)
        : new SimulatedHost(h.name, h.address, h.interfaces, file.management.address, LAB_SERVICES),
    );
  }
  return drivers;
}
