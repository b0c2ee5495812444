import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import git from 'isomorphic-git';
import { parseAllDocuments } from 'yaml';
import { CheckSpec } from '../checks/check-spec.js';
import { describeCheck } from '../checks/run-checks.js';
import { hostsFileForLab } from '../cli/lab.js';
import { parseCommand } from '../cli/args.js';
import { cleanUpOnSignals } from '../cli/interrupt.js';
import type { CommandIO } from '../cli/io.js';
import { openFileEventStore } from '../eventlog/file-store.js';
import { openGitSource } from '../git/source.js';
import { closeDialers } from '../checks/probes/dialer.js';
import { closeDrivers, driversFromHostsFile } from '../hosts/drivers.js';
import { sshPrerequisites } from '../lab/lab-sshd.js';
import type { HostsFile } from '../hosts/hosts-file.js';
import { hostAddress, labDown, labDownById, labPrerequisites, labUp, MANAGEMENT_ADDRESS, newLabId, type LabDescription } from '../lab/lab.js';
import { createLogger, LOG_FORMATS, type LogFormat } from '../log/logger.js';
import { startReconcileLoop } from '../reconciler/loop.js';
import { Reconciler } from '../reconciler/reconciler.js';
import { isFinished, project } from '../state/projections.js';
import { formatSummary } from './summary.js';

const HOSTS = ['node-a', 'node-b', 'node-c'];
const AUTHOR = { name: 'Palisade Demo', email: 'demo@palisade.invalid' };

/** The bad change: failsafe ports emptied, and a policy ahead of every other that denies SSH. */
const DENY_SSH = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: deny-ssh
spec:
  order: 1
  selector: all()
  ingress:
    - action: Deny
      protocol: TCP
      destination:
        ports: [22]
`;

/** The example's policy that keeps SSH open from the management network; the bad change deletes it. */
const FAILSAFE_POLICY_FILE = path.join('policies', 'failsafe.yaml');

/** Ports probed at the end to show what the policy allows and blocks. */
const PROBES = [
  { name: 'ssh', port: 22 },
  { name: 'http', port: 80 },
  { name: 'http-alt', port: 8080 },
].map((p) => CheckSpec.parse({ ...p, kind: 'tcp' }));

function exampleDir(): string {
  // From src/demo (tsx) or dist/src/demo (built): the package root is two or three levels up.
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../policies-example'), path.resolve(here, '../../../policies-example')];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) throw new Error(`policies-example/ not found next to the package (looked in ${candidates.join(', ')})`);
  return found;
}

async function commitAll(dir: string, message: string): Promise<string> {
  await git.add({ fs, dir, filepath: '.' });
  for (const [file, , worktree] of await git.statusMatrix({ fs, dir })) if (worktree === 0) await git.remove({ fs, dir, filepath: file });
  return git.commit({ fs, dir, message, author: AUTHOR });
}

/** Empties both failsafe lists of the FelixConfiguration, wherever the repository keeps it. */
async function emptyFailsafes(dir: string): Promise<string> {
  for (const file of await listYaml(dir)) {
    const docs = parseAllDocuments(await readFile(file, 'utf8'));
    const felix = docs.find((d) => !Array.isArray(d) && d.get('kind') === 'FelixConfiguration');
    if (felix && !Array.isArray(felix)) {
      felix.setIn(['spec', 'failsafeInboundHostPorts'], felix.createNode([]));
      felix.setIn(['spec', 'failsafeOutboundHostPorts'], felix.createNode([]));
      await writeFile(file, docs.map((d) => d.toString()).join(''));
      return path.relative(dir, file);
    }
  }
  await writeFile(path.join(dir, 'felix-configuration.yaml'), 'apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  failsafeInboundHostPorts: []\n  failsafeOutboundHostPorts: []\n');
  return 'felix-configuration.yaml';
}

async function listYaml(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && /\.ya?ml$/.test(entry.name) && !full.includes(`${path.sep}.git${path.sep}`)) out.push(full);
  }
  return out.sort();
}

function simulatedHostsFile(): HostsFile {
  return {
    management: { address: MANAGEMENT_ADDRESS },
    hosts: HOSTS.map((name, i) => ({
      kind: 'simulated' as const,
      name,
      address: hostAddress(i),
      interfaces: [
        { name: 'lo', addresses: ['127.0.0.1'] },
        { name: 'eth0', addresses: [hostAddress(i)] },
      ],
    })),
  };
}

async function waitUntil(what: string, done: () => boolean, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (signal.aborted) throw new DemoError('DEMO_STOPPED', `demo: stopped while waiting for ${what} (${(signal.reason as Error).message})`);
    if (Date.now() > deadline) throw new DemoError('DEMO_TIMEOUT', `demo: gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export class DemoError extends Error {
  constructor(
    readonly code: 'DEMO_STOPPED' | 'DEMO_TIMEOUT',
    message: string,
  ) {
    super(message);
  }
}

export const DEMO_USAGE = `usage: palisade demo [--simulated] [--timeout D] [--log-format pretty|json]

The whole story on one machine: a lab of network namespaces (as root, with nft and ip; else, or
with --simulated, simulated hosts), a policy repository, a good commit rolled out canary-first, a
bad commit rolled back on the canary, and a summary read back from the event log.

  --simulated      use the in-process packet simulator even as root
  --timeout D      give up (and tear everything down) after D (default: 5m)
  --log-format F   the reconciler's log lines: pretty (default) or json
  -h, --help       this text

Interrupted (Ctrl-C, SIGTERM) or timed out, it removes every namespace and process it made.
Exit status: 0 the story ended with SSH reachable on every host, 1 it did not (or it timed out),
2 usage error, 130/143 interrupted by SIGINT/SIGTERM.
`;

const SPEC = {
  name: 'demo',
  usage: DEMO_USAGE,
  options: { simulated: { type: 'boolean' }, timeout: { type: 'duration', default: '5m', min: 1000 }, 'log-format': { type: 'choice', choices: LOG_FORMATS, default: 'pretty' } },
} as const;

/**
 * `npm start`: the whole story on one machine. A lab of namespaces (or, without root or nft,
 * simulated hosts), a policy repository, a good commit rolled out canary-first, a bad commit
 * rolled back on the canary, and a summary read back from the event log.
 */
export async function runDemo(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, SPEC, io);
  if (!args) return 0;
  const forceSimulated = args.values.simulated;
  const pre = forceSimulated ? { ok: false as const, why: '--simulated was given' } : await labPrerequisites();
  const simulated = !pre.ok;
  const say = (text: string) => io.stdout.write(`${simulated ? '[simulated] ' : ''}${text}\n`);
  if (!pre.ok) say(`No kernel lab: ${pre.why}. Running the same story on the in-process packet simulator.`);

  const work = await mkdtemp(path.join(os.tmpdir(), 'palisade-demo-'));
  const labId = newLabId();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new Error(`--timeout ${args.values.timeout / 1000} s reached`)), args.values.timeout);
  let story: Promise<number> = Promise.resolve(1);
  const release = cleanUpOnSignals({
    abort,
    say,
    cleanup: async () => {
      // The story notices the abort at its next step and tears down in its finally; the sweep
      // catches whatever it could not reach in time.
      await Promise.race([story.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
      if (!simulated) await labDownById(labId);
      await rm(work, { recursive: true, force: true });
    },
  });
  try {
    story = tellStory({ simulated, say, work, labId, signal: abort.signal, logFormat: args.values['log-format'] });
    return await story;
  } finally {
    clearTimeout(timer);
    release();
  }
}

async function tellStory(opts: { simulated: boolean; say: (text: string) => void; work: string; labId: string; signal: AbortSignal; logFormat: LogFormat }): Promise<number> {
  const { simulated, say, work, signal } = opts;
  const repo = path.join(work, 'policies');
  const stateDir = path.join(work, 'state');
  let lab: LabDescription | null = null;
  try {
    await cp(exampleDir(), repo, { recursive: true, filter: (src) => !src.split(path.sep).includes('.github') });
    await git.init({ fs, dir: repo, defaultBranch: 'main' });

    say(
      simulated
        ? '1. Simulating hosts node-a, node-b, node-c (198.18.0.11-13) and a management network (198.18.0.1).'
        : '1. Building the lab: a management namespace and hosts node-a, node-b, node-c on a bridge (198.18.0.0/24).',
    );
    let hostsFile: HostsFile;
    if (simulated) hostsFile = simulatedHostsFile();
    else {
      // With OpenSSH installed, the hosts are driven the way real ones are: over SSH, commit-confirmed.
      const ssh = (await sshPrerequisites()).ok;
      lab = await labUp(HOSTS, { id: opts.labId, signal, ...(ssh ? { ssh: { dir: path.join(work, 'lab') } } : {}) });
      hostsFile = hostsFileForLab(lab, { confirmMs: 15_000 });
      say(`   lab ${lab.id}: ${lab.hosts.map((h) => `${h.name}=${h.address} (netns ${h.namespace})`).join(', ')}`);
      if (ssh) say('   every host runs a real sshd; the reconciler reaches them over SSH, and each host reverts an apply by itself unless it is confirmed within 15 s.');
    }

    const logger = createLogger({ simulated, format: opts.logFormat });
    const drivers = driversFromHostsFile(hostsFile);
    const store = await openFileEventStore(path.join(stateDir, 'events'));
    const source = await openGitSource({ repo, branch: 'main', cacheDir: path.join(stateDir, 'git-cache'), logger });
    const reconciler = new Reconciler({ git: source, store, logger, stateDir, drivers, pollIntervalMs: 200 });
    await reconciler.load();

    say(`2. Policy repository at ${repo}; the reconciler polls it every 200 ms and watches its refs.`);
    const good = await commitAll(repo, 'Host protection: failsafe policy, k8s-worker policy, host endpoints');
    const loop = startReconcileLoop(reconciler, logger, { pollIntervalMs: 200, maxBackoffMs: 5000 });
    const stopWatching = source.watch(() => loop.trigger());
    try {
      say(`3. Committed the good change ${good.slice(0, 8)}: watch it reach the canary, then the other waves.`);
      await waitUntil('the good commit', () => isFinished(reconciler.state.revisions.get(good)), 60_000, signal);

      const felixFile = await emptyFailsafes(repo);
      await rm(path.join(repo, FAILSAFE_POLICY_FILE), { force: true });
      await writeFile(path.join(repo, 'deny-ssh.yaml'), DENY_SSH);
      const bad = await commitAll(repo, 'Tighten SSH: deny tcp/22 everywhere, drop the failsafe policy and ports');
      say(`4. Committed a bad change ${bad.slice(0, 8)}: adds deny-ssh.yaml, removes ${FAILSAFE_POLICY_FILE}, empties the failsafe ports in ${felixFile}. It cuts SSH from the management network.`);
      await waitUntil('the bad commit', () => isFinished(reconciler.state.revisions.get(bad)), 60_000, signal);
    } finally {
      stopWatching();
      await loop.stop();
    }

    say('5. Probing every host from the management network:');
    const probes: string[] = [];
    let sshEverywhere = true;
    for (const [name, driver] of drivers) {
      const results = await Promise.all(PROBES.map((p) => driver.check(p)));
      const ssh = results[0]!;
      sshEverywhere &&= ssh.ok;
      probes.push(`   ${name}: ${results.map((r, i) => `${describeCheck(PROBES[i]!)} ${r.ok ? 'open' : 'blocked'}`).join(', ')}`);
    }
    for (const line of probes) say(line);

    const events = await store.read();
    await closeDrivers(drivers);
    await closeDialers();
    await source.close();
    await store.close();
    say('');
    for (const line of formatSummary(project(events), events.length).split('\n')) say(line);
    say(sshEverywhere ? 'SSH is reachable on every host.' : 'SSH IS NOT REACHABLE ON EVERY HOST.');
    return sshEverywhere ? 0 : 1;
  } finally {
    if (lab) {
      await labDown(lab);
      say(`6. Lab ${lab.id} torn down.`);
    }
    await rm(work, { recursive: true, force: true });
  }
}
