import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { HostFacts } from '../compiler/ir.js';
import { formatModelError } from '../model/errors.js';
import { findGitdir } from '../git/local.js';
import { resolveRevision } from '../git/revision.js';
import { openGitSource } from '../git/source.js';
import { readRepository, readRepositoryDirectory, type PolicyRepository } from '../repository/repository.js';
import { desiredStateOf, type DesiredState } from '../state/desired-state.js';
import { UsageError } from './io.js';

/** How `explain` and `render` get a desired state: a directory as it is, or as it was at a git revision. */
export type StateLoader = (repo: string, ref: string | undefined) => Promise<DesiredState>;

export class PolicyLoadError extends Error {
  readonly code = 'POLICY_INVALID';
}

export const loadDirectoryState: StateLoader = async (repo, ref) => {
  const result = ref === undefined ? await readRepositoryDirectory(repo) : await readRepositoryAt(repo, ref);
  if (result.errors.length > 0) throw new PolicyLoadError(`${repo}${ref ? `@${ref}` : ''} does not validate:\n${result.errors.map(formatModelError).join('\n')}`);
  return desiredStateOf(result.resources);
};

/** The policy directory `dir` (anywhere inside a Git work tree) as committed at `ref`. */
async function readRepositoryAt(dir: string, ref: string): Promise<PolicyRepository> {
  const top = workTreeOf(path.resolve(dir));
  const subdir = path.relative(top, path.resolve(dir)).split(path.sep).join('/');
  const source = await openGitSource({ repo: top, branch: 'HEAD', path: subdir, cacheDir: tmpdir() });
  try {
    const commit = await resolveRevision(findGitdir(top), ref);
    const prefix = subdir ? `${subdir}/` : '';
    return readRepository((await source.readFiles(commit)).map((f) => ({ path: `${prefix}${f.path}`, content: f.content })), { root: subdir });
  } finally {
    await source.close();
  }
}

function workTreeOf(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, '.git'))) return d;
    if (path.dirname(d) === d) throw new UsageError(`--ref needs --repo inside a Git repository; ${dir} is not`);
  }
}

/** The nodes the policy has host endpoints for. */
export const policyNodes = (state: DesiredState): Set<string> => new Set(state.hostEndpoints.map((h) => h.spec.node).filter((n): n is string => !!n));

/** A host Palisade compiles for must be named by a HostEndpoint: otherwise the ruleset would police nothing of it. */
export function requireKnownHost(state: DesiredState, node: string): void {
  const nodes = policyNodes(state);
  if (!nodes.has(node)) throw new UnknownHostError(`no HostEndpoint names node '${node}' (the policy names: ${[...nodes].sort().join(', ') || 'none'})`);
}

export class UnknownHostError extends Error {
  readonly code = 'HOST_NOT_IN_POLICY';
}

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
