import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { openGitSource } from '../../src/git/source.js';
import type { HostDriver } from '../../src/hosts/host-driver.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { readRepositoryDirectory } from '../../src/repository/repository.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * Bad input, one reader, one verdict (issue 14): every case is refused by `palisade validate` on
 * a checkout, by `palisade plan` on the commit, and by a running reconciler on the commit, with
 * the same errors (code, path, line); the reconciler applies nothing and rolls out the next good
 * commit. A symlink replacing a policy file is refused, never planned or applied as a removal.
 */
const tmp = useTmpDirs();

const HEP = 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: a-eth0, labels: {role: a}}\nspec: {node: a, interfaceName: eth0, expectedIPs: ["198.18.1.1"]}\n';
const set = (name: string, net: string) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: ${name}}\nspec: {nets: ["${net}"]}\n`;
const GOOD: Record<string, string> = { 'palisade.yaml': 'checkAttempts: 1\nsoak: 0\n', 'hosts.yaml': HEP, 'sets.yaml': set('mgmt', '198.18.0.0/24') };
const SSH_POLICY = 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ssh}\nspec:\n  selector: "role == \'a\'"\n  ingress: [{action: Allow, protocol: TCP, destination: {ports: [22]}}]\n';
const nested = (depth: number) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: deep\n  annotations: ${'['.repeat(depth)}${']'.repeat(depth)}\nspec: {}\n`;

type Entry = string | { link: string };
interface Case {
  what: string;
  /** Files changed on top of GOOD (`null` removes). */
  files: Record<string, Entry | null>;
  /** `code path:line` of every error, the same on every path. */
  errors: string[];
  /** A message fragment of the first error. */
  says: string;
}

const CASES: Case[] = [
  { what: 'symlink to a file outside the policy directory', files: { 'escape.yaml': { link: '../outside.yaml' } }, errors: ['SYMLINK escape.yaml:1'], says: "symbolic link (to '../outside.yaml') refused" },
  { what: 'symlink loop', files: { 'loop.yaml': { link: 'loop.yaml' } }, errors: ['SYMLINK loop.yaml:1'], says: "symbolic link (to 'loop.yaml') refused" },
  { what: 'directory symlink', files: { shared: { link: '../shared-policies' } }, errors: ['SYMLINK shared:1'], says: "symbolic link (to '../shared-policies') refused" },
  { what: 'a policy file replaced by a symlink (never a deletion)', files: { 'sets.yaml': { link: 'hosts.yaml' } }, errors: ['SYMLINK sets.yaml:1'], says: "symbolic link (to 'hosts.yaml') refused" },
  { what: 'palisade.yaml replaced by a symlink', files: { 'palisade.yaml': { link: '/etc/palisade.yaml' } }, errors: ['SYMLINK palisade.yaml:1'], says: 'refused' },
  { what: 'deeply nested YAML', files: { 'deep.yaml': nested(200) }, errors: ['NESTING_LIMIT deep.yaml:5'], says: 'nesting deeper than 64 levels' },
  { what: 'deeply nested palisade.yaml', files: { 'palisade.yaml': `checks: ${'['.repeat(100)}${']'.repeat(100)}\n` }, errors: ['NESTING_LIMIT palisade.yaml:1'], says: 'nesting deeper than 64 levels' },
  { what: 'unknown YAML tag', files: { 'tagged.yaml': 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: t}\nspec:\n  nets: [!cidr 198.18.7.0/24]\n' }, errors: ['UNKNOWN_TAG tagged.yaml:5'], says: 'YAML tag !cidr is not supported' },
  { what: 'a non-JSON YAML tag (!!binary)', files: { 'bin.yaml': 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: b\n  labels: {a: !!binary aGk=}\n' }, errors: ['UNKNOWN_TAG bin.yaml:5'], says: 'YAML tag !!binary is not supported' },
  {
    what: 'palisade.yaml check fields',
    files: {
      'palisade.yaml': [
        'checks:',
        '  - { name: web, kind: http, port: 80, path: "/health z" }',
        '  - { name: ctl, kind: http, path: "/a\\tb" }',
        '  - { name: db, kind: tcp, port: 0 }',
        '  - { name: big, kind: tcp, port: 70000 }',
        '  - { name: feed, kind: tcp, port: 2379, vantage: host, target: etcd.example }',
        '  - { name: web, kind: tcp, port: 443 }',
        '',
      ].join('\n'),
    },
    errors: ['ROLLOUT_CONFIG_INVALID palisade.yaml:2', 'ROLLOUT_CONFIG_INVALID palisade.yaml:3', 'ROLLOUT_CONFIG_INVALID palisade.yaml:4', 'ROLLOUT_CONFIG_INVALID palisade.yaml:5', 'ROLLOUT_CONFIG_INVALID palisade.yaml:6', 'ROLLOUT_CONFIG_INVALID palisade.yaml:7'],
    says: "path must start with '/' and contain only visible ASCII",
  },
];

const verdict = (errors: readonly { code: string; file: string; line: number }[], root: string) =>
  errors.map((e) => `${e.code} ${path.relative(root, path.resolve(root, e.file))}:${e.line}`);

async function checkout(dir: string, files: Record<string, Entry | null>): Promise<void> {
  await mkdir(path.join(dir, 'policies'), { recursive: true });
  for (const [name, entry] of Object.entries({ ...GOOD, ...files })) {
    if (entry === null) continue;
    const at = path.join(dir, 'policies', name);
    if (typeof entry === 'string') await writeFile(at, entry);
    else await symlink(entry.link, at);
  }
  // What the links point to exists, so nothing is refused for dangling.
  await writeFile(path.join(dir, 'outside.yaml'), set('outside', '198.18.9.0/24'));
  await mkdir(path.join(dir, 'shared-policies'), { recursive: true });
  await writeFile(path.join(dir, 'shared-policies', 'x.yaml'), set('x', '198.18.8.0/24'));
}

const inRepo = (files: Record<string, Entry | null>) =>
  Object.fromEntries(Object.entries(files).map(([p, e]) => [`policies/${p}`, e === null ? null : typeof e === 'string' ? e : TestRepo.symlink(e.link)]));

function capture() {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
}

describe('bad input gets one verdict from validate, plan and the reconciler', () => {
  it.each(CASES)('$what', async (c) => {
    const dir = await tmp('palisade-bad-input-');

    // 1. palisade validate on a checkout (real symlinks on disk).
    await checkout(path.join(dir, 'checkout'), c.files);
    const root = path.join(dir, 'checkout', 'policies');
    const validated = await readRepositoryDirectory(root);
    expect(verdict(validated.errors, root)).toEqual(c.errors);
    expect(validated.errors[0]!.message).toContain(c.says);
    const cli = capture();
    expect(await main(['validate', root], cli.io)).toBe(1);
    expect(cli.out.stdout).toContain(`${path.join(root, c.errors[0]!.split(' ')[1]!.split(':')[0]!)}:`);
    expect(cli.out.stdout + cli.out.stderr).not.toMatch(/Maximum call stack|at .*\.ts:\d+/);

    // 2. palisade plan on the commit: invalid, exit 1, the same errors (paths repository-relative).
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    const good = await repo.commit(inRepo(GOOD), 'good');
    await repo.commit(inRepo(c.files), c.what, { branch: 'feature', parents: [good] });
    const plan = capture();
    const json = path.join(dir, 'plan.json');
    expect(await main(['plan', '--repo', repo.dir, '--base', 'main', '--head', 'feature', '--path', 'policies', '--format', 'json', '--json-out', json], plan.io)).toBe(1);
    const report = JSON.parse(plan.out.stdout) as { outcome: string; errors: { code: string; file: string; line: number }[]; resources: unknown[] };
    expect(report.outcome).toBe('invalid');
    expect(verdict(report.errors, path.join(dir, 'repo'))).toEqual(c.errors.map((e) => e.replace(' ', ' policies/')));
    expect(report.resources).toEqual([]);

    // 3. A running reconciler (simulated host): the bad commit is rejected with the same errors and
    // nothing is applied; the next good commit rolls out.
    const applies: string[] = [];
    const host = new SimulatedHost('a', '198.18.1.1', [{ name: 'eth0', addresses: ['198.18.1.1'] }], '198.18.0.1', LAB_SERVICES);
    const counted: HostDriver = Object.assign(Object.create(host) as HostDriver, { apply: (r: Parameters<HostDriver["apply"]>[0]) => (applies.push(r.hash), host.apply(r)) });
    const source = await openGitSource({ repo: repo.dir, branch: 'main', path: 'policies', cacheDir: path.join(dir, 'state', 'git-cache') });
    const store = await openFileEventStore(path.join(dir, 'state', 'events'));
    try {
      const reconciler = new Reconciler({ git: source, store, logger: silentLogger(), stateDir: path.join(dir, 'state'), drivers: new Map([['a', counted]]) });
      await reconciler.load();
      expect((await reconciler.reconcile()).map((r) => r.outcome)).toEqual(['completed']);
      const appliedGood = applies.length;
      expect(appliedGood).toBe(1);
      const before = await host.current();

      const bad = await repo.commit(inRepo(c.files), c.what);
      expect(await reconciler.reconcile()).toEqual([{ revision: bad, outcome: 'rejected', failedHosts: [] }]);
      const rejected = (await store.read()).find((e) => e.type === 'CommitRejected' && e.revision === bad);
      expect(rejected?.type === 'CommitRejected' ? verdict(rejected.errors, '.') : []).toEqual(c.errors);
      expect(applies).toHaveLength(appliedGood);
      expect(await host.current()).toBe(before);
      expect((await store.read()).some((e) => e.type === 'ResourcesChanged' && e.revision === bad)).toBe(false);

      const fixed = await repo.commit({ ...inRepo(Object.fromEntries(Object.keys(c.files).map((k) => [k, GOOD[k] ?? null]))), 'policies/ssh.yaml': SSH_POLICY }, 'fixed');
      expect(await reconciler.reconcile()).toEqual([{ revision: fixed, outcome: 'completed', failedHosts: [] }]);
      expect(applies).toHaveLength(appliedGood + 1);
      expect(await host.current()).not.toBe(before);
    } finally {
      await source.close();
      await store.close();
    }
  }, 60_000);
});
