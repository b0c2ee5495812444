import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useTmpDirs } from '../support/tmp.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const UNITS = path.join(ROOT, 'packaging/systemd');
const tmp = useTmpDirs();
const analyze = await run('systemd-analyze', ['--version']).then(
  () => true,
  () => false,
);

/**
 * `systemd-analyze verify` needs ExecStart's binary to exist; the units name the installed
 * /usr/bin/palisade, so they are verified as copies naming this checkout's bin/palisade.js.
 * Warnings (an unknown key, a bad value) count as failures: verify only prints them.
 */
async function verify(units: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const dir = await tmp();
  for (const [name, text] of Object.entries(units)) await writeFile(path.join(dir, name), text.replaceAll('/usr/bin/palisade', path.join(ROOT, 'bin/palisade.js')));
  return run('systemd-analyze', ['verify', ...Object.keys(units).map((n) => `./${n}`)], { cwd: dir }).then(
    (r) => ({ code: 0, stderr: r.stderr }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
}

describe.skipIf(!analyze)('systemd units', () => {
  it('palisade-reconcile.service and palisade-agent@NODE.service pass systemd-analyze verify without a warning', async () => {
    const reconcile = await readFile(path.join(UNITS, 'palisade-reconcile.service'), 'utf8');
    const agent = await readFile(path.join(UNITS, 'palisade-agent@.service'), 'utf8');
    expect(await verify({ 'palisade-reconcile.service': reconcile, 'palisade-agent@node-a.service': agent })).toEqual({ code: 0, stderr: '' });
  });

  it('the check can fail: a misspelt key is reported', async () => {
    const reconcile = await readFile(path.join(UNITS, 'palisade-reconcile.service'), 'utf8');
    const r = await verify({ 'palisade-reconcile.service': reconcile.replace('ProtectSystem=strict', 'ProtectSystm=strict') });
    expect(r.stderr).toMatch(/Unknown key 'ProtectSystm'/);
  });

  it('are hardened, and every variable they read is documented in palisade.env', async () => {
    const env = await readFile(path.join(UNITS, 'palisade.env'), 'utf8');
    for (const unit of ['palisade-reconcile.service', 'palisade-agent@.service']) {
      const text = await readFile(path.join(UNITS, unit), 'utf8');
      expect(text).toMatch(/^ProtectSystem=strict$/m);
      expect(text).toMatch(/^NoNewPrivileges=yes$/m);
      expect(text).toMatch(/^StateDirectory=palisade/m);
      const caps = /^CapabilityBoundingSet=(.*)$/m.exec(text)![1]!.split(' ');
      expect(caps.every((c) => ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'].includes(c))).toBe(true);
      const vars = [...text.matchAll(/\$\{?(PALISADE_[A-Z_]+)/g)].map((m) => m[1]!);
      for (const v of vars) expect(env, `${unit} reads ${v}`).toMatch(new RegExp(`^#?${v}=`, 'm'));
    }
    // Every PALISADE_* variable the code reads is documented too.
    const { stdout } = await run('git', ['grep', '-ohE', "process\\.env\\.PALISADE_[A-Z_]+|env\\.PALISADE_[A-Z_]+", '--', 'src'], { cwd: ROOT });
    const read = new Set(stdout.split('\n').filter(Boolean).map((s) => s.replace(/^.*env\./, '')));
    const undocumented = [...read].filter((v) => !['PALISADE_DEBUG', 'PALISADE_CPU_PROFILE'].includes(v) && !new RegExp(`^#?${v}=`, 'm').test(env));
    expect(undocumented).toEqual([]);
  });
});
