import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { PlanReport } from '../../src/plan/plan-report.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';
import { felix, SEED } from './fixtures.js';

const tmp = useTmpDirs();

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
}

/** A policy repository under `policies/` with a base commit on main and a change on a branch. */
async function repoWith(change: Record<string, string | null>) {
  const dir = await tmp('palisade-plan-');
  const repo = await TestRepo.create(dir);
  const prefixed = (files: Record<string, string | null>) => Object.fromEntries(Object.entries(files).map(([p, c]) => [`policies/${p}`, c]));
  const workflow = { 'policies/.github/workflows/palisade-plan.yml': 'name: not a policy\non: pull_request\n' };
  const base = await repo.commit({ ...prefixed(SEED), ...workflow, 'README.md': 'not policy' }, 'base');
  const head = await repo.commit(prefixed(change), 'change', { branch: 'feature', parents: [base] });
  return { dir, base, head };
}

describe('palisade plan (CLI on a Git repository)', () => {
  it('plans a branch against main under --path: exit 2 on danger, 0 with --allow-danger; JSON and markdown files for the workflow', async () => {
    const { dir, base, head } = await repoWith({ 'felix.yaml': felix('failsafeInboundHostPorts: []') });
    const { out, io } = capture();
    const json = join(dir, 'plan.json');
    const md = join(dir, 'plan.md');
    const code = await main(['plan', '--repo', dir, '--base', 'main', '--head', 'feature', '--path', 'policies', '--json-out', json, '--markdown-out', md], io);
    expect(out.stderr).toBe('');
    expect(code).toBe(2);
    expect(out.stdout).toContain(`Plan main (${base.slice(0, 12)}) → feature (${head.slice(0, 12)}): DANGEROUS`);
    expect(out.stdout).toContain('DANGER node-a, eth0 ingress tcp/22 from 198.18.100.0/24 to 198.18.0.11/32');
    expect(out.stdout).toContain('at policies/felix.yaml:6:3');
    const report = PlanReport.parse(JSON.parse(await readFile(json, 'utf8')));
    expect(report.head.commit).toBe(head);
    expect(await readFile(md, 'utf8')).toContain('<!-- palisade-plan -->');

    const again = capture();
    expect(await main(['plan', '--repo', dir, '--base', base.slice(0, 8), '--head', 'feature', '--path', 'policies', '--allow-danger', '--format', 'github'], again.io)).toBe(0);
    expect(again.out.stdout).toContain('::error file=policies/felix.yaml,line=6,col=3,title=DANGER%3A check ssh-from-management::');
  });

  it('a head that does not validate: the errors first, exit 1', async () => {
    const { dir } = await repoWith({ 'bad.yaml': 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: { name: x }\nspec: { interfaceName: eth0 }\n' });
    const { out, io } = capture();
    expect(await main(['plan', '--repo', dir, '--base', 'main', '--head', 'feature', '--path', 'policies'], io)).toBe(1);
    expect(out.stdout.split('\n').slice(0, 5).join('\n')).toContain('Validation errors (1)\n  policies/bad.yaml:4:1: HostEndpoint/x: spec: no node has been specified');
  });

  it('palisade.yaml in the policy directory drives the rollout preview', async () => {
    const { dir } = await repoWith({ 'palisade.yaml': 'waves:\n  - { name: first, hosts: [node-b] }\n  - { name: rest }\n', 'felix.yaml': felix('failsafeInboundHostPorts: [{ protocol: TCP, port: 22 }]') });
    const { out, io } = capture();
    expect(await main(['plan', '--repo', dir, '--base', 'main', '--head', 'feature', '--path', 'policies', '--format', 'json'], io)).toBe(0);
    expect(PlanReport.parse(JSON.parse(out.stdout)).rollout?.waves).toEqual([
      { name: 'first', hosts: ['node-b'], affected: ['node-b'] },
      { name: 'rest', hosts: ['node-a'], affected: ['node-a'] },
    ]);
  });

  it('an unknown ref or a missing --base: exit 3 with the reason', async () => {
    const { dir } = await repoWith({});
    const a = capture();
    expect(await main(['plan', '--repo', dir, '--base', 'nope'], a.io)).toBe(3);
    expect(a.out.stderr).toContain('nope is not a branch, tag or commit');
    const b = capture();
    expect(await main(['plan', '--repo', dir], b.io)).toBe(3);
    expect(b.out.stderr).toContain('--base is required');
  });
});
