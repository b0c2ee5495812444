import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPolicyDirectory } from '../../src/model/load.js';

const set = (name: string) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: ${name}
spec:
  nets: [10.0.0.0/8]
`;

let root: string;
let repo: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'palisade-model-'));
  repo = join(root, 'repo');
  mkdirSync(join(repo, 'sub'), { recursive: true });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('loadPolicyDirectory', () => {
  it('reads yaml, yml and json recursively and skips other and hidden files', async () => {
    writeFileSync(join(repo, 'a.yaml'), set('a'));
    writeFileSync(join(repo, 'sub', 'b.yml'), set('b'));
    writeFileSync(join(repo, 'sub', 'c.json'), JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkSet', metadata: { name: 'c' }, spec: {} }));
    writeFileSync(join(repo, 'notes.txt'), 'not policy');
    mkdirSync(join(repo, '.git'));
    writeFileSync(join(repo, '.git', 'x.yaml'), 'garbage: [');
    const r = await loadPolicyDirectory(repo);
    expect(r.errors).toEqual([]);
    expect(r.resources.map((l) => l.resource.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(r.resources[1]!.source).toEqual({ file: join(repo, 'sub', 'b.yml'), line: 1, col: 1 });
  });

  it('refuses every symlink, leading outside or inside, to a file or a directory, with its path', async () => {
    writeFileSync(join(root, 'outside.yaml'), set('outside'));
    writeFileSync(join(repo, 'a.yaml'), set('a'));
    symlinkSync(join(root, 'outside.yaml'), join(repo, 'escape.yaml'));
    symlinkSync(join(repo, 'a.yaml'), join(repo, 'sub', 'same.yaml'));
    symlinkSync(root, join(repo, 'up'));
    const r = await loadPolicyDirectory(repo);
    expect(r.errors.map((e) => `${e.code} ${e.file}`).sort()).toEqual([
      `SYMLINK ${join(repo, 'escape.yaml')}`,
      `SYMLINK ${join(repo, 'sub', 'same.yaml')}`,
      `SYMLINK ${join(repo, 'up')}`,
    ]);
    expect(r.resources.map((l) => l.resource.metadata.name)).toEqual(['a']);
  });

  it('rejects files over the size limit unread', async () => {
    writeFileSync(join(repo, 'big.yaml'), `# ${'x'.repeat(1024 * 1024)}\n`);
    const r = await loadPolicyDirectory(repo);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ code: 'FILE_TOO_LARGE', file: join(repo, 'big.yaml'), line: 1, col: 1 });
    expect(r.errors[0]!.message).toContain('larger than the 1048576-byte limit');
  });
});

describe('skip-invalid mode (fail-open, off by default)', () => {
  const hep = (name: string, extra: string) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${name}
spec:
  interfaceName: eth0
${extra}`;

  it('rejects the repository by default', async () => {
    writeFileSync(join(repo, 'h.yaml'), `${hep('good', '  node: a\n')}---\n${hep('bad', '')}`);
    const r = await loadPolicyDirectory(repo);
    expect(r.errors.map((e) => e.message)).toEqual(['no node has been specified']);
  });

  it('drops the invalid resource with a warning when asked', async () => {
    writeFileSync(join(repo, 'h.yaml'), `${hep('good', '  node: a\n')}---\n${hep('bad', '')}`);
    const r = await loadPolicyDirectory(repo, { skipInvalid: true });
    expect(r.errors).toEqual([]);
    expect(r.resources.map((l) => l.resource.metadata.name)).toEqual(['good']);
    expect(r.warnings.map((w) => `${w.code} ${w.kind}/${w.name}: ${w.message}`)).toEqual([
      'SKIPPED_INVALID HostEndpoint/bad: Validation failed; treating as missing: no node has been specified',
    ]);
  });
});
