import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HostsFile } from '../hosts/hosts-file.js';
import { LabDescription, labDown, labDownById, labUp, listLabIds, newLabId } from '../lab/lab.js';
import { parseCommand, pickSubcommand } from './args.js';
import { cleanUpOnSignals } from './interrupt.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade lab up   --state DIR [--hosts node-a,node-b,node-c] [--ssh] [-o text|json]
       palisade lab down --state DIR | --id ID | --all

'up' builds test hosts as network namespaces (never touching the root namespace), writes
DIR/lab.json and DIR/hosts.json (pass the latter to 'palisade reconcile --hosts'). Needs root.
Interrupted (Ctrl-C, SIGTERM) while building, it removes what it built. The lab outlives the
command; its id is the <id> of its namespace names pal-<id>-….
--ssh starts a real OpenSSH server in every host (keys under DIR/ssh) and writes hosts of kind
'ssh' with DIR/ssh/known_hosts.

'down' removes a lab's namespaces and the processes inside: the lab described in DIR/lab.json,
the lab with that id (its state directory may be gone), or with --all every lab on this machine
(every namespace named pal-<6 hex digits>-…).

Exit status: 0 done, 1 the lab could not be built or there is no lab to remove, 2 usage error.`;

const UP = {
  name: 'lab up',
  usage: USAGE,
  options: { state: { type: 'string' }, hosts: { type: 'string', default: 'node-a,node-b,node-c' }, ssh: { type: 'boolean' } },
  output: { formats: ['text', 'json'] },
} as const;
const DOWN = { name: 'lab down', usage: USAGE, options: { state: { type: 'string' }, id: { type: 'string' }, all: { type: 'boolean' } } } as const;

/** The hosts file that points the reconciler at a lab. */
export function hostsFileForLab(lab: LabDescription, opts: { confirmMs?: number } = {}): HostsFile {
  const ssh = lab.ssh;
  return {
    management: { namespace: lab.management.namespace, address: lab.management.address },
    hosts: lab.hosts.map((h) =>
      ssh
        ? {
            kind: 'ssh' as const,
            name: h.name,
            address: h.address,
            user: 'root',
            port: 22,
            identityFile: ssh.identityFile,
            knownHostsFile: ssh.knownHostsFile,
            acceptNewHostKey: false,
            stateDir: ssh.hosts[h.name]!.stateDir,
            ...(opts.confirmMs ? { confirmMs: opts.confirmMs } : {}),
          }
        : { kind: 'netns' as const, name: h.name, namespace: h.namespace, address: h.address },
    ),
  };
}

export async function runLab(argv: string[], io: CommandIO): Promise<number> {
  const picked = pickSubcommand(argv, { name: 'lab', usage: USAGE, subcommands: ['up', 'down'] }, io);
  if (typeof picked === 'number') return picked;
  return picked.sub === 'up' ? up(picked.rest, io) : down(picked.rest, io);
}

async function up(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, UP, io);
  if (!args) return 0;
  const { state, hosts, ssh } = args.values;
  if (!state) throw new UsageError('lab up needs --state DIR', undefined, 'lab up');
  const names = hosts.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.find((n) => !/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/.test(n));
  if (bad) throw new UsageError(`host name '${bad}' must be 1-16 lower-case letters, digits or '-'`, undefined, 'lab up');
  await mkdir(state, { recursive: true });
  const id = newLabId();
  const abort = new AbortController();
  const building = labUp(names, { id, signal: abort.signal, ...(ssh ? { ssh: { dir: path.resolve(state) } } : {}) });
  const release = cleanUpOnSignals({
    abort,
    cleanup: async () => {
      // labUp stops at its next step and removes what it built; the sweep catches the rest.
      await Promise.race([building.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      await labDownById(id);
    },
    say: (text) => io.stderr.write(`palisade lab up: ${text}\n`),
  });
  try {
    const lab = await building;
    const labFile = path.join(state, 'lab.json');
    await writeFile(labFile, JSON.stringify(lab, null, 2));
    await writeFile(path.join(state, 'hosts.json'), JSON.stringify(hostsFileForLab(lab), null, 2));
    if (args.output === 'json') io.stdout.write(`${JSON.stringify({ ...lab, hostsFile: path.join(state, 'hosts.json') })}\n`);
    else {
      io.stdout.write(`lab ${lab.id} is up: ${lab.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}; management ${lab.management.address}\n`);
      io.stdout.write(`hosts file: ${path.join(state, 'hosts.json')}\n`);
    }
    return 0;
  } finally {
    release();
  }
}

async function down(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, DOWN, io);
  if (!args) return 0;
  const { state, id, all } = args.values;
  if ([state, id, all || undefined].filter((x) => x !== undefined).length !== 1) throw new UsageError('lab down needs exactly one of --state DIR, --id ID and --all', undefined, 'lab down');
  if (id !== undefined && !/^[0-9a-f]{6}$/.test(id)) throw new UsageError(`--id must be a lab id (6 hex digits, as in pal-<id>-…), got '${id}'`, undefined, 'lab down');
  if (state !== undefined) {
    const labFile = path.join(state, 'lab.json');
    let lab: LabDescription;
    try {
      lab = LabDescription.parse(JSON.parse(await readFile(labFile, 'utf8')));
    } catch (e) {
      throw new UsageError(`${labFile}: no lab description to tear down (${(e as Error).message}); 'palisade lab down --id ID' removes a lab whose state directory is gone`, 1, 'lab down');
    }
    await labDown(lab);
    // A lab interrupted while it was being built, or grown since: whatever still carries its id.
    await labDownById(lab.id);
    io.stdout.write(`lab ${lab.id} is down\n`);
    return 0;
  }
  const ids = all ? await listLabIds() : [id!];
  let removed = 0;
  for (const lab of ids) {
    const namespaces = await labDownById(lab);
    if (namespaces.length > 0) io.stdout.write(`lab ${lab} is down (${namespaces.length} namespaces)\n`);
    removed += namespaces.length;
  }
  if (removed === 0) {
    io.stderr.write(all ? 'no lab on this machine\n' : `no namespace of lab ${id} on this machine\n`);
    return all ? 0 : 1;
  }
  return 0;
}
