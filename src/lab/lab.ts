import { backoffDelay } from '../backoff.js';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { z } from 'zod';
import { SSH_FAILSAFE_CHECK } from '../checks/check-spec.js';
import { probe } from '../checks/probes/probe.js';
import { LAB_SERVICE_SOURCE, serviceArgs, type ServicePorts } from './lab-service.js';
import { LabSsh, setUpLabSsh, stopAllLabSshd } from './lab-sshd.js';

const run = promisify(execFile);

/**
 * A lab: hosts as network namespaces joined by a bridge that lives in a namespace of its own,
 * so nothing in the root namespace is created, changed or routed. Addresses come from
 * 198.18.0.0/15 (RFC 2544 benchmarking space) and no namespace has a default route.
 */

export const LAB_PREFIX = 24;
export const MANAGEMENT_ADDRESS = '198.18.0.1';
/** What the stand-in service runs in every host: 22 plays sshd, 80 and 8080 serve HTTP, 53/udp DNS. */
export const LAB_SERVICES: ServicePorts = { ssh: [22], http: [80, 8080], dns: [53] };

export const LabHost = z.object({ name: z.string(), namespace: z.string(), address: z.string(), iface: z.string() });
export type LabHost = z.infer<typeof LabHost>;

export const LabDescription = z.object({
  id: z.string(),
  bridgeNamespace: z.string(),
  management: z.object({ namespace: z.string(), address: z.string() }),
  hosts: z.array(LabHost),
  /** With `lab up --ssh`: a real sshd per host, and the keys to reach it. */
  ssh: LabSsh.optional(),
});
export type LabDescription = z.infer<typeof LabDescription>;

export class LabError extends Error {
  constructor(
    readonly code: 'LAB_NOT_ROOT' | 'LAB_COMMAND_FAILED' | 'LAB_TOOL_MISSING' | 'LAB_INTERRUPTED',
    message: string,
  ) {
    super(message);
    this.name = 'LabError';
  }
}

async function ip(args: string[], signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw new LabError('LAB_INTERRUPTED', 'interrupted while building the lab');
  try {
    await run('ip', args, { timeout: 10_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new LabError('LAB_COMMAND_FAILED', `ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Can this process build namespaces and load nft rules? Says why not when it cannot. */
export async function labPrerequisites(): Promise<{ ok: true } | { ok: false; why: string }> {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not running as root (network namespaces and nftables need CAP_NET_ADMIN)' };
  for (const tool of ['ip', 'nft']) {
    try {
      await run(tool, ['-V'], { timeout: 5000 });
    } catch {
      return { ok: false, why: `'${tool}' is not installed (Debian: apt-get install ${tool === 'ip' ? 'iproute2' : 'nftables'})` };
    }
  }
  return { ok: true };
}

/** Address of the i-th lab host (0-based): .11, .12, … */
export const hostAddress = (index: number) => `198.18.0.${11 + index}`;

/** A fresh lab id: the `<id>` of its namespace names `pal-<id>-…`. */
export const newLabId = () => randomBytes(3).toString('hex');

/**
 * `signal` stops the building between two steps (Ctrl-C while a lab comes up): what was built
 * is torn down and the error is thrown.
 * `ssh.dir`: start a real sshd in every host (keys and configuration under that directory).
 */
export async function labUp(hostNames: readonly string[], opts: { id?: string; signal?: AbortSignal; ssh?: { dir: string } } = {}): Promise<LabDescription> {
  const pre = await labPrerequisites();
  if (!pre.ok) throw new LabError('LAB_NOT_ROOT', `cannot build a lab: ${pre.why}`);
  if (hostNames.length > 200) throw new LabError('LAB_COMMAND_FAILED', 'a lab holds at most 200 hosts');
  const id = opts.id ?? newLabId();
  const lab: LabDescription = {
    id,
    bridgeNamespace: `pal-${id}-br`,
    management: { namespace: `pal-${id}-mgmt`, address: MANAGEMENT_ADDRESS },
    hosts: hostNames.map((name, i) => ({ name, namespace: `pal-${id}-${name}`, address: hostAddress(i), iface: 'eth0' })),
  };
  try {
    const br = lab.bridgeNamespace;
    await ip(['netns', 'add', br], opts.signal);
    await ip(['-n', br, 'link', 'set', 'lo', 'up'], opts.signal);
    await ip(['-n', br, 'link', 'add', 'br0', 'type', 'bridge'], opts.signal);
    await ip(['-n', br, 'link', 'set', 'br0', 'up'], opts.signal);
    const members = [{ namespace: lab.management.namespace, address: lab.management.address }, ...lab.hosts];
    for (const [i, m] of members.entries()) {
      const peer = `p${i}`;
      await ip(['netns', 'add', m.namespace], opts.signal);
      await ip(['-n', m.namespace, 'link', 'set', 'lo', 'up'], opts.signal);
      // Created inside the member namespace with its peer placed straight into the bridge's:
      // no interface ever appears in the root namespace.
      await ip(['-n', m.namespace, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', peer, 'netns', br], opts.signal);
      await ip(['-n', m.namespace, 'addr', 'add', `${m.address}/${LAB_PREFIX}`, 'dev', 'eth0'], opts.signal);
      await ip(['-n', m.namespace, 'link', 'set', 'eth0', 'up'], opts.signal);
      await ip(['-n', br, 'link', 'set', peer, 'master', 'br0'], opts.signal);
      await ip(['-n', br, 'link', 'set', peer, 'up'], opts.signal);
    }
    // With a real sshd on 22, the stand-in serves everything else.
    const services = opts.ssh ? { ...LAB_SERVICES, ssh: [] } : LAB_SERVICES;
    await Promise.all(lab.hosts.map((h) => startLabService(h.namespace, services)));
    if (opts.ssh) lab.ssh = await setUpLabSsh(lab.hosts, opts.ssh.dir);
    await Promise.all(lab.hosts.map((h) => waitReachable(lab.management.namespace, h)));
    return lab;
  } catch (e) {
    await labDown(lab);
    throw e;
  }
}

/**
 * New veth links and the bridge take a moment to forward; a lab is only handed out once the
 * management network reaches every host's sshd stand-in (bounded: 10 s).
 */
async function waitReachable(managementNamespace: string, host: LabHost): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const r = await probe(SSH_FAILSAFE_CHECK, host.address, { namespace: managementNamespace }).catch(() => null);
    if (r?.open) return;
    await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt + 1, 50, 500, Math.random)));
  }
  throw new LabError('LAB_COMMAND_FAILED', `lab host ${host.name} (${host.address}) is not reachable from the management namespace after 10 s`);
}

/** The stand-in sshd, web and DNS server in a host namespace, detached so the lab outlives the CLI. */
async function startLabService(namespace: string, services: ServicePorts): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', namespace, process.execPath, '-e', LAB_SERVICE_SOURCE, ...serviceArgs(services)], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new LabError('LAB_COMMAND_FAILED', `lab service in ${namespace} did not start within 10 s`)), 10_000);
    child.stdout.once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new LabError('LAB_COMMAND_FAILED', `lab service in ${namespace} exited with ${code}`));
    });
  });
  child.stdout.destroy();
  child.removeAllListeners('exit');
  child.unref();
}

/** Removes every namespace of the lab and the processes inside; safe to call twice. */
export async function labDown(lab: LabDescription): Promise<void> {
  if (lab.ssh) await stopAllLabSshd(lab.ssh);
  await removeNamespaces([...lab.hosts.map((h) => h.namespace), lab.management.namespace, lab.bridgeNamespace]);
}

/** Removes every namespace named `pal-<id>-…` and what runs inside: a lab whose description (state directory) is gone, or one half built. */
export async function labDownById(id: string): Promise<string[]> {
  const namespaces = await listLabNamespaces(id);
  await removeNamespaces(namespaces);
  return namespaces;
}

async function removeNamespaces(namespaces: readonly string[]): Promise<void> {
  for (const ns of namespaces) {
    const pids = await run('ip', ['netns', 'pids', ns], { timeout: 5000 }).then((r) => r.stdout.split(/\s+/).filter(Boolean).map(Number), () => []);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await run('ip', ['netns', 'del', ns], { timeout: 5000 }).catch(() => undefined);
  }
}

/** Lab namespaces are `pal-<6 hex digits>-<role>`; other `pal-…` names are not labs'. */
const LAB_NAMESPACE = /^pal-([0-9a-f]{6})-[a-z0-9-]+$/;

/** Namespaces of labs (`pal-<id>-…`), of one lab when `id` is given: also those whose process died before tearing down. */
export async function listLabNamespaces(id?: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list'], { timeout: 5000 });
  return stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => LAB_NAMESPACE.exec(n) && (id === undefined || n.startsWith(`pal-${id}-`)));
}

/** The ids of every lab with a namespace on this machine. */
export async function listLabIds(): Promise<string[]> {
  return [...new Set((await listLabNamespaces()).map((n) => LAB_NAMESPACE.exec(n)![1]!))].sort();
}
