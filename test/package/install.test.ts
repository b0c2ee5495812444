import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGithub } from '../support/fake-github.js';

/**
 * The package as a user gets it, in the way the example pull-request workflow builds it: the
 * workflow's own script steps run in order — Palisade checked out from this repository's
 * committed HEAD (a clean tree: `git archive`), `npm ci` and `npm pack` in it, `npm install
 * --global` of the tarball (into a temporary prefix), then plan, comment and the final status
 * step against a fake GitHub API on loopback. Then the installed `palisade` is used from another
 * directory: --version, validate, demo --help, and the simulated demo.
 * The `uses:` steps are played by the test: checkout (the policy repository with a base branch
 * and a pull-request head), setup-node (this Node), upload-artifact (plan.json is checked).
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const WORKFLOW = path.join(ROOT, 'policies-example/.github/workflows/palisade-plan.yml');
const sh = promisify(execFile);

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  'working-directory'?: string;
}

let work = '';
let prefix = '';
let github: FakeGithub;
const results = new Map<string, { code: number; stdout: string; stderr: string }>();
const outputs = new Map<string, Record<string, string>>();

const git = (cwd: string, ...args: string[]) => sh('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 'Ada', GIT_AUTHOR_EMAIL: 'ada@example.org', GIT_COMMITTER_NAME: 'Ada', GIT_COMMITTER_EMAIL: 'ada@example.org' } });

function bash(script: string, cwd: string, env: Record<string, string>, timeoutMs = 240_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // GitHub's shell for `run:` steps on Linux.
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

describe('the package, built and installed as the example workflow does it', () => {
  let ws = '';
  let env: Record<string, string> = {};
  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-package-'));
    prefix = path.join(work, 'prefix');
    github = await new FakeGithub().start('workflow-token');

    // The policy repository: main with the example policy, a pull request that breaks it.
    const origin = path.join(work, 'origin');
    await mkdir(origin);
    await git(origin, 'init', '-q', '-b', 'main');
    await sh('cp', ['-r', ...['palisade.yaml', 'policies', 'sets', 'hosts', 'config'].map((f) => path.join(ROOT, 'policies-example', f)), origin]);
    await git(origin, 'add', '-A');
    await git(origin, 'commit', '-qm', 'base');
    await git(origin, 'checkout', '-qb', 'change');
    await writeFile(path.join(origin, 'policies', 'bad.yaml'), 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: bad\nspec:\n  ingres: []\n');
    await git(origin, 'add', '-A');
    await git(origin, 'commit', '-qm', 'a typo');
    ws = path.join(work, 'ws');
    await git(work, 'clone', '-q', origin, ws);
    await git(ws, 'checkout', '-q', 'change');
    // "Check out Palisade": the committed tree of this repository.
    await mkdir(path.join(ws, '.palisade'));
    await bash(`git -C "${ROOT}" archive HEAD | tar -x -C "${path.join(ws, '.palisade')}"`, ws, { ...process.env } as Record<string, string>);

    const runnerTemp = path.join(work, 'runner-temp');
    await mkdir(runnerTemp);
    await writeFile(path.join(work, 'event.json'), JSON.stringify({ pull_request: { number: 7 } }));
    const wf = parse(await readFile(WORKFLOW, 'utf8')) as { jobs: { plan: { env: Record<string, string>; steps: Step[] } } };
    const contexts: Record<string, string> = { 'github.base_ref': 'main', 'secrets.GITHUB_TOKEN': 'workflow-token' };
    const expand = (value: string, scope: Record<string, string>) =>
      String(value).replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, expr: string) => {
        const step = /^steps\.([a-z-]+)\.outputs\.([a-z]+)$/.exec(expr);
        if (step) return outputs.get(step[1]!)?.[step[2]!] ?? '';
        const envRef = /^env\.([A-Z_]+)$/.exec(expr);
        if (envRef) return scope[envRef[1]!] ?? '';
        if (!(expr in contexts)) throw new Error(`the workflow uses \${{ ${expr} }}, which this test does not provide`);
        return contexts[expr]!;
      });
    const jobEnv = Object.fromEntries(Object.entries(wf.jobs.plan.env).map(([k, v]) => [k, expand(v, {})]));
    env = {
      ...(process.env as Record<string, string>),
      ...jobEnv,
      PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}`,
      NPM_CONFIG_PREFIX: prefix,
      npm_config_prefer_offline: 'true',
      RUNNER_TEMP: runnerTemp,
      GITHUB_REPOSITORY: 'acme/policies',
      GITHUB_API_URL: github.url,
      GITHUB_EVENT_PATH: path.join(work, 'event.json'),
      CI: 'true',
    };
    for (const key of Object.keys(env)) if (key.startsWith('npm_') && key !== 'npm_config_prefer_offline') delete env[key];

    for (const [i, step] of wf.jobs.plan.steps.entries()) {
      const name = step.name ?? step.uses ?? `step ${i}`;
      const failed = [...results.values()].some((r) => r.code !== 0);
      const runs = step.if === undefined ? !failed : step.if === 'always()' ? true : step.if === "always() && hashFiles('plan.md') != ''" ? existsSync(path.join(ws, 'plan.md')) : null;
      if (runs === null) throw new Error(`${name}: if: ${step.if} is not understood by this test`);
      if (!runs || !step.run) continue;
      const output = path.join(work, `output-${i}`);
      await writeFile(output, '');
      const stepEnv = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expand(v, env)]));
      const result = await bash(step.run, path.join(ws, step['working-directory'] ?? '.'), { ...env, ...stepEnv, GITHUB_OUTPUT: output });
      results.set(name, result);
      if (step.id) outputs.set(step.id, Object.fromEntries((await readFile(output, 'utf8')).split('\n').filter(Boolean).map((l) => l.split('=', 2) as [string, string])));
    }
  }, 420_000);
  afterAll(async () => {
    await github?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds the tarball from the clean tree and installs it: the Build and Install steps pass', () => {
    const build = results.get('Build Palisade')!;
    expect(build.code, build.stderr).toBe(0);
    expect(results.get('Install Palisade')?.stdout).toMatch(/^palisade-gitops \d+\.\d+\.\d+$/m);
  });

  it('plans the pull request, comments once on it, and fails the job with the plan status', async () => {
    expect(outputs.get('plan')).toEqual({ status: '1' });
    expect(results.get('Plan')?.stdout).toMatch(/::error file=policies\/bad\.yaml,line=6/);
    const plan = JSON.parse(await readFile(path.join(work, 'ws', 'plan.json'), 'utf8')) as { outcome: string };
    expect(plan.outcome).toBe('invalid');
    expect(results.get('Comment on the pull request')?.code).toBe(0);
    expect(github.comments).toHaveLength(1);
    expect(github.requests.filter((r) => r.startsWith('POST'))).toEqual(['POST /repos/acme/policies/issues/7/comments']);
    expect(results.get('Fail on an invalid or dangerous change')?.code).toBe(1);
  });

  it('works installed, from another directory: --version, validate, demo --help, the simulated demo', async () => {
    const elsewhere = await mkdtemp(path.join(os.tmpdir(), 'palisade-elsewhere-'));
    try {
      const palisade = path.join(prefix, 'bin', 'palisade');
      const installed = path.join(prefix, 'lib', 'node_modules', 'palisade-gitops');
      const run = (...args: string[]) => bash(`"${palisade}" ${args.map((a) => `'${a}'`).join(' ')}`, elsewhere, env, 60_000);
      expect((await run('--version')).stdout).toMatch(/^palisade-gitops \d+\.\d+\.\d+\n$/);
      const validate = await run('validate', path.join(installed, 'policies-example'));
      expect(validate.code, validate.stderr).toBe(0);
      expect(validate.stderr).toMatch(/7 valid resources, 0 errors/);
      const help = await run('demo', '--help');
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(/^usage: palisade demo/);
      expect(help.stdout).not.toMatch(/Building the lab|Simulating hosts/);
      const demo = await run('demo', '--simulated', '--log-format', 'json');
      expect(demo.code, demo.stderr).toBe(0);
      expect(demo.stdout).toMatch(/\[simulated\] SSH is reachable on every host\./);
      for (const f of ['packaging/systemd/palisade-reconcile.service', 'packaging/systemd/palisade.env', 'README.md', 'dist/src/cli/main.js']) expect(existsSync(path.join(installed, f)), f).toBe(true);
      expect(existsSync(path.join(installed, 'src'))).toBe(false);
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });
});
