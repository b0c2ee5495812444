import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { HostsFile } from '../hosts/hosts-file.js';
import { LabDescription, labDown, labUp } from '../lab/lab.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade lab up   --state DIR [--hosts node-a,node-b,node-c] [--ssh]
       palisade lab down --state DIR

'up' builds test hosts as network namespaces (never touching the root namespace), writes
DIR/lab.json and DIR/hosts.json (pass the latter to 'palisade reconcile --hosts'). Needs root.
--ssh starts a real OpenSSH server in every host (keys under DIR/ssh) and writes hosts of kind
'ssh' with DIR/ssh/known_hosts.`;

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
  const [action, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { state: { type: 'string' }, hosts: { type: 'string', default: 'node-a,node-b,node-c' }, ssh: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } } });
  if (values.help || (action !== 'up' && action !== 'down')) {
    io.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (!values.state) throw new UsageError(`lab ${action} needs --state DIR\n\n${USAGE}`);
  const labFile = path.join(values.state, 'lab.json');
  if (action === 'up') {
    const names = values.hosts.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = names.find((n) => !/^[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?$/.test(n));
    if (bad) throw new UsageError(`host name '${bad}' must be 1-16 lower-case letters, digits or '-'`);
    await mkdir(values.state, { recursive: true });
    const lab = await labUp(names, values.ssh ? { ssh: { dir: path.resolve(values.state) } } : {});
    await writeFile(labFile, JSON.stringify(lab, null, 2));
    await writeFile(path.join(values.state, 'hosts.json'), JSON.stringify(hostsFileForLab(lab), null, 2));
    io.stdout.write(`lab ${lab.id} is up: ${lab.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}; management ${lab.management.address}\n`);
    io.stdout.write(`hosts file: ${path.join(values.state, 'hosts.json')}\n`);
    return 0;
  }
  let lab: LabDescription;
  try {
    lab = LabDescription.parse(JSON.parse(await readFile(labFile, 'utf8')));
  } catch (e) {
    throw new UsageError(`${labFile}: no lab description to tear down (${(e as Error).message})`, 1);
  }
  await labDown(lab);
  io.stdout.write(`lab ${lab.id} is down\n`);
  return 0;
}
