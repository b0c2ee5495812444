import { LAB_SERVICES } from '../lab/lab.js';
import type { HostDriver } from './host-driver.js';
import type { HostEntry, HostsFile } from './hosts-file.js';
import { LocalHost } from './local-host.js';
import { NetnsHost } from './netns-host.js';
import { SimulatedHost } from './simulated-host.js';

function driverFor(h: HostEntry, file: HostsFile): HostDriver {
  switch (h.kind) {
    case 'netns':
      return new NetnsHost(h.name, h.namespace, h.address, file.management.namespace ?? null);
    case 'local':
      return new LocalHost(h.name, h.address, { manageThisMachine: h.manageThisMachine });
    case 'simulated':
      return new SimulatedHost(h.name, h.address, h.interfaces, file.management.address, LAB_SERVICES);
  }
}

export function driversFromHostsFile(file: HostsFile): Map<string, HostDriver> {
  return new Map(file.hosts.map((h) => [h.name, driverFor(h, file)]));
}
