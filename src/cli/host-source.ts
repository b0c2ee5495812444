import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { HostFacts } from '../compiler/ir.js';
import { formatModelError } from '../model/errors.js';
import { readRepositoryDirectory } from '../repository/repository.js';
import { desiredStateOf, type DesiredState } from '../state/desired-state.js';
import { UsageError } from './io.js';

/** How `explain` and `render` get a desired state: a directory, or (from the lead's git source) a revision. */
export type StateLoader = (repo: string, ref: string | undefined) => Promise<DesiredState>;

export class PolicyLoadError extends Error {
  readonly code = 'POLICY_INVALID';
}

export const loadDirectoryState: StateLoader = async (repo, ref) => {
  if (ref !== undefined) throw new UsageError('--ref needs the git policy source; this build reads --repo as a plain directory');
  const result = await readRepositoryDirectory(repo);
  if (result.errors.length > 0) throw new PolicyLoadError(`${repo} does not validate:\n${result.errors.map(formatModelError).join('\n')}`);
  return desiredStateOf(result.resources);
};

const HostFactsFile = z.strictObject({
  node: z.string(),
  interfaces: z.array(z.strictObject({ name: z.string(), addresses: z.array(z.string()) })),
});

/** `--facts FILE` (JSON HostFacts as read on the host), else what the repository implies. */
export async function hostFacts(state: DesiredState, node: string, factsFile: string | undefined, localIfaceHint?: { iface: string; address: string }): Promise<HostFacts> {
  if (factsFile !== undefined) {
    const parsed = HostFactsFile.safeParse(JSON.parse(await readFile(factsFile, 'utf8')));
    if (!parsed.success) throw new UsageError(`${factsFile} is not host facts ({node, interfaces:[{name, addresses[]}]}): ${parsed.error.message}`);
    if (parsed.data.node !== node) throw new UsageError(`${factsFile} describes node ${parsed.data.node}, not ${node}`);
    return parsed.data;
  }
  return impliedFacts(state, node, localIfaceHint);
}

/**
 * Without a live host: every named HEP interface with its expected IPs, plus loopback. The
 * packet's local address is placed on its interface, so expectedIPs-only HEPs resolve as they
 * would on the host.
 */
export function impliedFacts(state: DesiredState, node: string, hint?: { iface: string; address: string }): HostFacts {
  const ifaces = new Map<string, Set<string>>([['lo', new Set(['127.0.0.1', '::1'])]]);
  for (const hep of state.hostEndpoints) {
    const name = hep.spec.interfaceName;
    if (hep.spec.node !== node || !name || name === '*') continue;
    const set = ifaces.get(name) ?? new Set<string>();
    hep.spec.expectedIPs.forEach((ip) => set.add(ip));
    ifaces.set(name, set);
  }
  if (hint) ifaces.set(hint.iface, (ifaces.get(hint.iface) ?? new Set<string>()).add(hint.address));
  return { node, interfaces: [...ifaces.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, addrs]) => ({ name, addresses: [...addrs].sort() })) };
}
