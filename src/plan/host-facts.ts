import type { HostFacts } from '../compiler/ir.js';
import type { DesiredState } from '../state/desired-state.js';

/**
 * The interfaces a plan assumes a node has, read from the repository alone: each HostEndpoint's
 * `interfaceName` with its `expectedIPs`, an interface for each endpoint known only by
 * `expectedIPs` (Felix finds it by address; its real name is unknown, so it is named after the
 * address), and loopback. Both revisions' interfaces are merged, so a host endpoint that appears
 * or disappears is simulated on the same interface before and after.
 */
export function planFacts(node: string, ...states: DesiredState[]): HostFacts {
  const ifaces = new Map<string, Set<string>>([['lo', new Set(['127.0.0.1', '::1'])]]);
  const add = (name: string, ips: readonly string[]) => {
    const set = ifaces.get(name) ?? new Set<string>();
    ips.forEach((ip) => set.add(ip));
    ifaces.set(name, set);
  };
  for (const state of states) {
    for (const hep of state.hostEndpoints) {
      if (hep.spec.node !== node) continue;
      const name = hep.spec.interfaceName;
      if (name && name !== '*') add(name, hep.spec.expectedIPs);
      else if (!name) hep.spec.expectedIPs.forEach((ip) => add(addressIface(ip), [ip]));
    }
  }
  return { node, interfaces: [...ifaces.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, addrs]) => ({ name, addresses: [...addrs].sort() })) };
}

/** `ip@198.18.0.5` fits an interface name (15 characters, no `:`); IPv6 gets a short stable tag. */
function addressIface(ip: string): string {
  const name = `ip@${ip}`;
  if (name.length <= 15 && !ip.includes(':')) return name;
  let h = 0;
  for (const ch of ip) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `ip@${h.toString(16).padStart(8, '0')}`;
}

/** Every node that has a host endpoint in any of the states, sorted. */
export function nodesOf(...states: DesiredState[]): string[] {
  return [...new Set(states.flatMap((s) => s.hostEndpoints.map((h) => h.spec.node)))].sort();
}
