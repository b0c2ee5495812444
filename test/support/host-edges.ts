import { hostMachine } from '../../machines/host.js';
import type { PalisadeEvent } from '../../src/eventlog/events.js';

/** Every `from->to` the host machine can take, read from its definition (events, invokes, delays, eventless). */
export function hostMachineEdges(): Set<string> {
  const edges = new Set<string>();
  for (const [name, node] of Object.entries(hostMachine.root.states)) {
    for (const t of [...node.transitions.values()].flat().concat(node.always ?? [])) for (const target of t.target ?? []) edges.add(`${name}->${target.key}`);
  }
  return edges;
}

/**
 * Walks each host's records in log order and returns what does not read as a path of the host
 * machine: a transition that is not an edge, or one that does not start where the host was.
 * A `HostResumed` begins a new run of the machine, at `queued`.
 */
export function pathViolations(events: readonly PalisadeEvent[], revision: string): string[] {
  const edges = hostMachineEdges();
  const at = new Map<string, string>();
  const wrong: string[] = [];
  for (const e of events) {
    if (e.revision !== revision) continue;
    if (e.type === 'HostResumed') {
      if ((at.get(e.host) ?? 'queued') !== e.from) wrong.push(`seq ${e.seq}: ${e.host} resumed from ${e.from} but was ${at.get(e.host) ?? 'queued'}`);
      at.set(e.host, 'queued');
    } else if (e.type === 'HostTransition') {
      const was = at.get(e.host) ?? 'queued';
      if (was !== e.from) wrong.push(`seq ${e.seq}: ${e.host} ${e.from}->${e.to} but the host was ${was}`);
      if (!edges.has(`${e.from}->${e.to}`)) wrong.push(`seq ${e.seq}: ${e.host} ${e.from}->${e.to} is not an edge of the host machine`);
      at.set(e.host, e.to);
    }
  }
  return wrong;
}
