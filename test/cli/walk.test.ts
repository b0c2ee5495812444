import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMAND_NAMES, main } from '../../src/cli/main.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { stateLayout } from '../../src/eventlog/layout.js';
import type { EventDraft } from '../../src/eventlog/events.js';
import { commitDraft } from '../support/events.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * Every command and subcommand of the one CLI layer: --help prints usage and exits 0 (and does
 * nothing else: `demo --help` must not start a demo), an unknown flag gets one line naming it and
 * pointing at --help with the documented exit status, and --output json prints JSON.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(ROOT, 'policies-example');
const tmp = useTmpDirs();

const COMMANDS: string[][] = [
  ['demo'],
  ['reconcile'],
  ['rollout'],
  ['rollout', 'status'],
  ['rollout', 'wait'],
  ['rollout', 'pause'],
  ['rollout', 'resume'],
  ['rollout', 'abort'],
  ['rollout', 'retry'],
  ['agent'],
  ['lab'],
  ['lab', 'up'],
  ['lab', 'down'],
  ['events'],
  ['history'],
  ['validate'],
  ['convert'],
  ['convert', 'v1'],
  ['render'],
  ['plan'],
  ['plan', 'comment'],
  ['explain'],
];
/** A usage error exits 2, except where 2 is a verdict of the command. */
const usageExit = (cmd: string[]) => (cmd[0] === 'plan' ? 3 : 2);

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
}

const STACK = /^\s+at .+:\d+:\d+\)?$|node:internal/m;

describe('the CLI: every command and subcommand', () => {
  it('covers every top-level command', () => {
    expect([...new Set(COMMANDS.map((c) => c[0]))].sort()).toEqual([...COMMAND_NAMES].sort());
  });

  it.each(COMMANDS.map((c) => [c.join(' '), c]))('%s --help and -h: usage on stdout, exit 0, nothing else', async (_, cmd) => {
    for (const flag of ['--help', '-h']) {
      const { out, io } = capture();
      expect(await main([...cmd, flag], io)).toBe(0);
      expect(out.stdout).toMatch(/^usage: palisade /);
      expect(out.stdout).toContain(`palisade ${cmd[0]}`);
      expect(out.stderr).toBe('');
    }
  });

  it.each(COMMANDS.map((c) => [c.join(' '), c]))('%s --no-such-flag: one line naming it, a pointer to --help, the usage exit status', async (_, cmd) => {
    const { out, io } = capture();
    expect(await main([...cmd, '--no-such-flag'], io)).toBe(usageExit(cmd));
    expect(out.stdout).toBe('');
    expect(out.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(out.stderr).toContain("'--no-such-flag'");
    expect(out.stderr).toMatch(/see 'palisade [a-z0-9 ]+ --help'/);
    expect(out.stderr).not.toMatch(STACK);
  });

  it('malformed values name the option: a bad duration, a bad number, a missing value, a bad --output', async () => {
    const cases: [string[], number, RegExp][] = [
      [['reconcile', '--poll-interval', '5 seconds'], 2, /--poll-interval takes a duration such as 500ms, 5s, 2m, 1h/],
      [['reconcile', '--snapshot-every', 'many'], 2, /--snapshot-every must be a whole number ≥ 1, got 'many'/],
      [['history', '--state'], 2, /option '--state' needs a value/],
      [['history', '--output', 'xml'], 2, /--output must be text or json, got 'xml'/],
      [['plan', '--base', 'main', '-o', 'yaml'], 3, /--output must be text, markdown, json or github/],
      [['explain', '--dport', '70000'], 2, /--dport must be a whole number ≥ 0 ≤ 65535/],
      [['rollout', 'wait', '--state', 'x', '--timeout', 'soon'], 2, /--timeout takes a duration/],
      [['rollout', 'bogus'], 2, /unknown subcommand 'bogus'/],
      [['agent', '--lease-ttl', '2500ms'], 2, /--lease-ttl must be whole seconds, got '2500ms'/],
      [['nosuch'], 2, /unknown command 'nosuch'/],
    ];
    for (const [argv, code, message] of cases) {
      const { out, io } = capture();
      expect(await main(argv, io), argv.join(' ')).toBe(code);
      expect(out.stderr).toMatch(message);
      expect(out.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });

  it('a time flag takes the duration syntax of palisade.yaml', async () => {
    const { out, io } = capture();
    // Valid durations get past the parser: the missing --repo is what stops it.
    expect(await main(['reconcile', '--poll-interval', '5s', '--drift-interval', '2m'], io)).toBe(2);
    expect(out.stderr).toMatch(/reconcile needs --repo, --state and --hosts/);
  });
});

describe('--output json wherever data is printed', () => {
  let state = '';
  let repo = '';
  afterAll(() => Promise.all([state, repo].map((d) => rm(d, { recursive: true, force: true }))));
  beforeAll(async () => {
    state = await mkdtemp(path.join(os.tmpdir(), 'palisade-walk-'));
    const store = await openFileEventStore(stateLayout(state).events);
    const drafts: EventDraft[] = [
      commitDraft(1, 'a'.repeat(40)),
      { type: 'RolloutStarted', revision: 'a'.repeat(40), key: 'a:rollout', waves: [{ name: 'canary', hosts: ['h1'] }] },
      { type: 'HostTransition', revision: 'a'.repeat(40), key: 'a:h1:soak', host: 'h1', wave: 0, from: 'verifying', to: 'soaking', soakUntil: Date.now() + 3_600_000 },
    ];
    await store.append(drafts);
    await store.close();
    repo = await mkdtemp(path.join(os.tmpdir(), 'palisade-walk-'));
    const r = await TestRepo.create(repo);
    await r.commit({ 'hep.yaml': hep('node-a') }, 'one');
    await r.commit({ 'hep-b.yaml': hep('node-b') }, 'two');
  });

  const json = async (argv: string[], code = 0) => {
    const { out, io } = capture();
    expect(await main(argv, io), `${argv.join(' ')}: ${out.stderr}`).toBe(code);
    return out.stdout;
  };

  it('validate, render, explain, plan', async () => {
    expect(JSON.parse(await json(['validate', EXAMPLE, '-o', 'json']))).toMatchObject({ valid: true });
    expect(JSON.parse(await json(['render', '--repo', EXAMPLE, '--host', 'node-a', '--output', 'json']))).toMatchObject({ node: 'node-a', hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const explained = JSON.parse(await json(['explain', '--repo', EXAMPLE, '--host', 'node-a', '--iface', 'eth0', '--direction', 'ingress', '--proto', 'tcp', '--src', '198.18.0.1', '--dst', '198.18.0.11', '--dport', '22', '-o', 'json']));
    expect(explained.verdict).toBe('allow');
    const plan = JSON.parse(await json(['plan', '--repo', repo, '--base', 'HEAD~1', '-o', 'json']));
    expect(plan.outcome).toBeDefined();
  });

  it('events, history, rollout status', async () => {
    const events = (await json(['events', '--state', state, '-o', 'json'])).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).toEqual(['CommitObserved', 'RolloutStarted', 'HostTransition']);
    expect(JSON.parse((await json(['history', '--state', state, '-o', 'json'])).trim())).toMatchObject({ revision: 'a'.repeat(40), outcome: 'rolling-out' });
    const status = JSON.parse(await json(['rollout', 'status', '--state', state, '-o', 'json']));
    expect(status.waves[0].hosts[0]).toMatchObject({ host: 'h1', state: 'soaking' });
    expect(status.waves[0].hosts[0].soakLeftMs).toBeGreaterThan(3_000_000);
    // The text screen shows the soak clock too.
    expect(await json(['rollout', 'status', '--state', state])).toMatch(/h1\s+soaking (59m\d\d|60m00)s left/);
  });

  it('convert v1', async () => {
    const dir = await tmp();
    const file = path.join(dir, 'v1.json');
    await writeFile(file, JSON.stringify({ '/calico/v1/config/FailsafeInboundHostPorts': 'tcp:22' }));
    const resources = JSON.parse(await json(['convert', 'v1', file, '-o', 'json'])) as { kind: string }[];
    expect(resources.map((r) => r.kind)).toContain('FelixConfiguration');
  });

  it('the old spellings still work: --format json, --json', async () => {
    expect(JSON.parse(await json(['validate', EXAMPLE, '--format', 'json']))).toMatchObject({ valid: true });
    expect(JSON.parse((await json(['history', '--state', state, '--json'])).trim())).toMatchObject({ outcome: 'rolling-out' });
  });
});

describe('render and explain: hosts and revisions', () => {
  it('a host no HostEndpoint names is an error, not an empty ruleset', async () => {
    const { out, io } = capture();
    expect(await main(['render', '--repo', EXAMPLE, '--host', 'nosuch'], io)).toBe(1);
    expect(out.stdout).toBe('');
    expect(out.stderr).toMatch(/no HostEndpoint names node 'nosuch' \(the policy names: node-a, node-b, node-c\) \[HOST_NOT_IN_POLICY\]/);
    const e = capture();
    expect(await main(['explain', '--repo', EXAMPLE, '--host', 'nosuch', '--iface', 'eth0', '--direction', 'ingress', '--proto', 'tcp', '--src', '198.18.0.1', '--dst', '198.18.0.11'], e.io)).toBe(2);
    expect(e.out.stderr).toMatch(/no HostEndpoint names node 'nosuch'/);
  });

  it('--ref takes git revision syntax: NAME~N, tags, short ids', async () => {
    const repo = await tmp();
    const r = await TestRepo.create(repo);
    const first = await r.commit({ 'policy/hep.yaml': hep('node-a') }, 'one');
    await r.commit({ 'policy/hep.yaml': hep('node-b') }, 'two');
    await r.commit({ 'policy/hep.yaml': hep('node-c') }, 'three');
    await git.annotatedTag({ fs, gitdir: r.gitdir, ref: 'v1', object: first, tagger: { name: 'Ada', email: 'ada@example.org' }, message: 'v1' });
    const policy = path.join(repo, 'policy');
    for (const [ref, node] of [['main~2', 'node-a'], ['HEAD^', 'node-b'], ['v1', 'node-a'], [first.slice(0, 7), 'node-a'], ['HEAD', 'node-c']] as const) {
      const { out, io } = capture();
      expect(await main(['render', '--repo', policy, '--ref', ref, '--host', node, '--hash'], io), `${ref}: ${out.stderr}`).toBe(0);
      // The other revisions' node is unknown at this one.
      const other = capture();
      expect(await main(['render', '--repo', policy, '--ref', ref, '--host', node === 'node-c' ? 'node-a' : 'node-c', '--hash'], other.io)).toBe(1);
    }
    const bad = capture();
    expect(await main(['render', '--repo', policy, '--ref', 'main~9', '--host', 'node-a'], bad.io)).toBe(1);
    expect(bad.out.stderr).toMatch(/main~9: commit [0-9a-f]{10} has no parent .*\[GIT_REVISION_NOT_FOUND\]/);
  });

  it('plan --hosts warns where the hosts file and the policy disagree', async () => {
    const repo = await tmp();
    const r = await TestRepo.create(repo);
    await r.commit({ 'hep.yaml': hep('node-a') }, 'one');
    await r.commit({ 'hep-b.yaml': hep('node-b') }, 'two');
    const hosts = path.join(repo, '..', `${path.basename(repo)}-hosts.json`);
    await writeFile(hosts, JSON.stringify({ management: { address: '198.18.0.1' }, hosts: [{ kind: 'simulated', name: 'node-a', address: '198.18.0.11', interfaces: [] }, { kind: 'simulated', name: 'node-x', address: '198.18.0.12', interfaces: [] }] }));
    const { out, io } = capture();
    await main(['plan', '--repo', repo, '--base', 'main~1', '--hosts', hosts], io);
    expect(out.stderr).toContain("warning: host 'node-x' of the hosts file has no HostEndpoint in the policy");
    expect(out.stderr).toContain("warning: HostEndpoint node 'node-b' has no entry in the hosts file");
    expect(out.stderr).not.toContain("'node-a'");
  });
});

describe('the palisade process', () => {
  const run = (args: string[], opts: { closeStdout?: boolean } = {}) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // The reader went away before the first line (`palisade history | head -0`).
      if (opts.closeStdout) child.stdout.destroy();
      else child.stdout.resume();
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });

  it('ends quietly with status 0 when stdout is a closed pipe', async () => {
    const r = await run(['validate', EXAMPLE, '-o', 'json'], { closeStdout: true });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('prints no stack trace for an unknown flag, and --version', async () => {
    const r = await run(['reconcile', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("palisade reconcile: unknown option '--bogus' (see 'palisade reconcile --help')\n");
  });
});

function hep(node: string): string {
  return `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${node}-eth0
spec:
  node: ${node}
  interfaceName: eth0
  expectedIPs: [198.18.0.11]
`;
}

describe('rollout wait', () => {
  it('exits with the outcome of the revision: 0 completed, 3 halted, 5 rejected, 8 on --timeout', async () => {
    const state = await mkdtemp(path.join(os.tmpdir(), 'palisade-wait-'));
    try {
      const store = await openFileEventStore(stateLayout(state).events);
      const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => x.repeat(40)) as [string, string, string, string];
      await store.append([
        commitDraft(1, a),
        { type: 'RolloutFinished', revision: a, key: 'a:done', outcome: 'completed', failedHosts: [], durationMs: 10 },
        commitDraft(2, b),
        { type: 'RolloutFinished', revision: b, key: 'b:done', outcome: 'halted', failedHosts: ['h1'], durationMs: 10 },
        commitDraft(3, c),
        { type: 'CommitRejected', revision: c, key: 'c:rejected', errors: [{ code: 'E', file: 'p.yaml', line: 1, col: 1, message: 'bad' }] },
        commitDraft(4, d),
      ]);
      await store.close();
      const wait = async (...args: string[]) => {
        const { out, io } = capture();
        return { code: await main(['rollout', 'wait', '--state', state, ...args], io), ...out };
      };
      expect(await wait('--revision', 'aaaa')).toMatchObject({ code: 0, stdout: 'aaaaaaaa: completed\n' });
      expect(await wait('--revision', 'bbbb')).toMatchObject({ code: 3, stdout: 'bbbbbbbb: halted (failed: h1)\n' });
      expect((await wait('--revision', 'cccc')).code).toBe(5);
      // The newest revision is still rolling out.
      const timedOut = await wait('--timeout', '300ms');
      expect(timedOut.code).toBe(8);
      expect(timedOut.stderr).toMatch(/dddddddd still observed after 0.3 s/);
    } finally {
      await rm(state, { recursive: true, force: true });
    }
  });
});
