import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';

const run = promisify(execFile);

export const SSHD = '/usr/sbin/sshd';

/**
 * Real OpenSSH servers for a lab: one `sshd -D` per host namespace, listening only on that
 * host's 198.18.x address, with a host key generated for the lab and one authorized client key.
 * Everything lives under the lab's own directory; each sshd is started and killed by its PID
 * (none ever runs in the machine's own network namespace).
 */
export const LabSsh = z.object({
  dir: z.string(),
  identityFile: z.string(),
  knownHostsFile: z.string(),
  hosts: z.record(z.string(), z.object({ pid: z.number().int(), dir: z.string(), stateDir: z.string() })),
});
export type LabSsh = z.infer<typeof LabSsh>;

interface SshdHost {
  name: string;
  namespace: string;
  address: string;
}

/** Whether this machine has OpenSSH's server and key generator (Debian: openssh-server, openssh-client). */
export async function sshPrerequisites(): Promise<{ ok: true } | { ok: false; why: string }> {
  if (!existsSync(SSHD)) return { ok: false, why: `${SSHD} is not installed (Debian: apt-get install openssh-server)` };
  try {
    await run('ssh-keygen', ['-?'], { timeout: 5000 }).catch((e: { code?: unknown }) => {
      if (e.code === 'ENOENT') throw e;
    });
  } catch {
    return { ok: false, why: "'ssh-keygen' is not installed (Debian: apt-get install openssh-client)" };
  }
  return { ok: true };
}

async function keygen(file: string, comment: string): Promise<void> {
  await rm(file, { force: true });
  await rm(`${file}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { timeout: 10_000 });
}

/** OpenSSH 9.8 added per-source penalties, which would lock the management address out of a lab probed all day. */
async function sshdSupportsPenalties(): Promise<boolean> {
  const r = await run(SSHD, ['-V'], { timeout: 5000 }).catch((e: { stderr?: string }) => ({ stderr: e.stderr ?? '' }));
  const m = /OpenSSH_(\d+)\.(\d+)/.exec(r.stderr);
  return m ? Number(m[1]) * 100 + Number(m[2]) >= 908 : false;
}

function sshdConfig(host: SshdHost, dir: string, penalties: boolean): string {
  return [
    `ListenAddress ${host.address}:22`,
    `HostKey ${dir}/ssh_host_ed25519_key`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // The lab directory usually sits under /tmp, which StrictModes would reject.
    'StrictModes no',
    // Checks open many short connections from one address.
    'MaxStartups 200',
    'MaxSessions 100',
    'PrintMotd no',
    'LogLevel ERROR',
    // bash sources ~/.bashrc for commands run by sshd unless it is a nested shell; this
    // machine's root .bashrc is nobody's lab (it may be slow, or block), so skip it.
    'SetEnv SHLVL=1',
    ...(penalties ? ['PerSourcePenalties no'] : []),
    '',
  ].join('\n');
}

/** Starts the host's sshd and returns its PID once it runs (it answers once the lab is reachable). */
export async function startLabSshd(host: SshdHost, dir: string): Promise<number> {
  // sshd refuses to start without its privilege separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const child = spawn('ip', ['netns', 'exec', host.namespace, SSHD, '-D', '-f', path.join(dir, 'sshd_config'), '-E', path.join(dir, 'sshd.log')], {
    detached: true,
    stdio: 'ignore',
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`cannot start sshd in ${host.namespace}`);
  // A configuration error makes sshd exit at once; give it that moment.
  const early = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 150);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
  if (early !== null) {
    const log = await readFile(path.join(dir, 'sshd.log'), 'utf8').catch(() => '');
    throw new Error(`sshd in ${host.namespace} exited with ${early}: ${log.trim() || 'no log'}`);
  }
  child.unref();
  return pid;
}

/** Kills one sshd by its PID, and the sessions it forked (by theirs), and waits until it is gone (bounded: 5 s). */
export async function stopLabSshd(pid: number): Promise<void> {
  const sessions = await run('ps', ['-o', 'pid=', '--ppid', String(pid)], { timeout: 5000 }).then(
    (r) => r.stdout.split(/\s+/).filter(Boolean).map(Number),
    () => [],
  );
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (const s of sessions) {
    try {
      process.kill(s, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && isRunning(pid)) await new Promise((r) => setTimeout(r, 20));
}

/** Alive and not a zombie (an sshd whose `lab up` process is gone may wait long to be reaped). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = (() => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return '';
    }
  })();
  return !/\) [ZX] /.test(stat);
}

/** Keys, configurations and one running sshd per host; the known-hosts file lists every host key. */
export async function setUpLabSsh(hosts: readonly SshdHost[], dir: string): Promise<LabSsh> {
  const root = path.join(dir, 'ssh');
  await mkdir(root, { recursive: true, mode: 0o700 });
  const identityFile = path.join(root, 'id_ed25519');
  await keygen(identityFile, 'palisade-lab');
  const penalties = await sshdSupportsPenalties();
  const ssh: LabSsh = { dir: root, identityFile, knownHostsFile: path.join(root, 'known_hosts'), hosts: {} };
  const known: string[] = [];
  for (const h of hosts) {
    const hostDir = path.join(root, h.name);
    await mkdir(hostDir, { recursive: true, mode: 0o700 });
    await keygen(path.join(hostDir, 'ssh_host_ed25519_key'), `palisade-lab-${h.name}`);
    await copyFile(`${identityFile}.pub`, path.join(hostDir, 'authorized_keys'));
    await chmod(path.join(hostDir, 'authorized_keys'), 0o600);
    await writeFile(path.join(hostDir, 'sshd_config'), sshdConfig(h, hostDir, penalties));
    known.push(knownHostsLine(h.address, await readFile(path.join(hostDir, 'ssh_host_ed25519_key.pub'), 'utf8')));
    ssh.hosts[h.name] = { pid: 0, dir: hostDir, stateDir: path.join(hostDir, 'palisade') };
  }
  await writeFile(ssh.knownHostsFile, known.join(''), { mode: 0o600 });
  for (const h of hosts) ssh.hosts[h.name]!.pid = await startLabSshd(h, ssh.hosts[h.name]!.dir);
  return ssh;
}

const knownHostsLine = (address: string, pub: string) => `${address} ${pub.trim().split(/\s+/).slice(0, 2).join(' ')}\n`;

/** A new host key for one lab host (its sshd restarted with it): the known-hosts file now holds the old one. */
export async function rekeyLabSshd(ssh: LabSsh, host: SshdHost): Promise<void> {
  const h = ssh.hosts[host.name]!;
  await stopLabSshd(h.pid);
  await keygen(path.join(h.dir, 'ssh_host_ed25519_key'), `palisade-lab-${host.name}-rekeyed`);
  h.pid = await startLabSshd(host, h.dir);
}

export async function stopAllLabSshd(ssh: LabSsh): Promise<void> {
  await Promise.all(Object.values(ssh.hosts).map((h) => (h.pid > 0 ? stopLabSshd(h.pid) : undefined)));
}
