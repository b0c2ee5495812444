import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * The reconciler's own view of where hosts are and how to reach them (`--hosts FILE`): kept
 * out of the policy repository, which says what hosts should enforce, not where they live.
 */
export const HostEntry = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('netns'),
    name: z.string().min(1),
    namespace: z.string().min(1),
    address: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal('local'),
    name: z.string().min(1),
    address: z.string().min(1),
    /** Palisade may change the nftables of the machine it runs on: must be said explicitly. */
    manageThisMachine: z.boolean().default(false),
  }),
  z.strictObject({
    kind: z.literal('simulated'),
    name: z.string().min(1),
    address: z.string().min(1),
    interfaces: z.array(z.strictObject({ name: z.string(), addresses: z.array(z.string()) })),
  }),
  /** A host running `palisade agent`: reached through etcd (`reconcile --store etcd://…`). */
  z.strictObject({
    kind: z.literal('agent'),
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,253}$/, 'an agent host name is letters, digits, ., _ or - (it is part of etcd keys)'),
    address: z.string().min(1),
    /** How long the agent keeps an unconfirmed apply before reverting by itself (ms). */
    confirmMs: z.number().int().positive().optional(),
  }),
  /** A real host reached over SSH: nft, a POSIX shell and sshd on it, nothing else. */
  z.strictObject({
    kind: z.literal('ssh'),
    name: z.string().min(1),
    address: z.string().min(1),
    user: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/, 'a user name is letters, digits, _, . or -').default('root'),
    port: z.number().int().min(1).max(65535).default(22),
    /** Default: the reconciler's own ~/.ssh/id_ed25519 (or id_ecdsa, id_rsa). */
    identityFile: z.string().min(1).optional(),
    /** Default: the reconciler's own ~/.ssh/known_hosts. */
    knownHostsFile: z.string().min(1).optional(),
    /** Trust a host whose key the known-hosts file does not hold yet, and write it down (never a changed key). */
    acceptNewHostKey: z.boolean().default(false),
    /** How long the host keeps an unconfirmed apply before reverting by itself (ms). */
    confirmMs: z.number().int().min(1000).optional(),
    /** Where the host keeps its lock, saved table and journal. */
    stateDir: z.string().regex(/^\/[A-Za-z0-9_./-]*$/, 'an absolute path of letters, digits, _, ., / or -').default('/var/lib/palisade'),
  }),
]);
export type HostEntry = z.infer<typeof HostEntry>;

export const HostsFile = z.strictObject({
  /** Where controller-vantage checks run from: a namespace, or this process when omitted. */
  management: z.strictObject({ namespace: z.string().optional(), address: z.string() }),
  hosts: z.array(HostEntry).min(1, 'a hosts file lists at least one host'),
});
export type HostsFile = z.infer<typeof HostsFile>;

export class HostsFileError extends Error {
  readonly code = 'HOSTS_FILE_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'HostsFileError';
  }
}

export async function readHostsFile(file: string): Promise<HostsFile> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new HostsFileError(`${file}: cannot read hosts file: ${(e as Error).message}`);
  }
  const parsed = HostsFile.safeParse(raw);
  if (!parsed.success) {
    throw new HostsFileError(parsed.error.issues.map((i) => `${file}: ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n'));
  }
  const names = parsed.data.hosts.map((h) => h.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new HostsFileError(`${file}: hosts: host '${dup}' is listed twice`);
  return parsed.data;
}

/**
 * Where the hosts file and the policy disagree: a host Palisade would manage that no HostEndpoint
 * names (its ruleset would police none of its interfaces), and a HostEndpoint node no host entry
 * reaches (that policy is enforced nowhere). One sentence each, for warnings.
 */
export function hostsPolicyMismatch(hostNames: readonly string[], policyNodes: ReadonlySet<string>): string[] {
  const hosts = new Set(hostNames);
  return [
    ...[...hosts].filter((h) => !policyNodes.has(h)).sort().map((h) => `host '${h}' of the hosts file has no HostEndpoint in the policy: none of its interfaces would be policed`),
    ...[...policyNodes].filter((n) => !hosts.has(n)).sort().map((n) => `HostEndpoint node '${n}' has no entry in the hosts file: its policy is enforced nowhere`),
  ];
}
