import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labDownById, labPrerequisites, listLabNamespaces } from '../../src/lab/lab.js';

const pre = await labPrerequisites();
const ROOT = path.resolve(import.meta.dirname, '../..');

/** `npm start` stopped by a real SIGTERM mid-story: every namespace and the work directory it made are gone. */
describe.skipIf(!pre.ok)('palisade demo, interrupted', () => {
  it('tears down its lab and work directory on SIGTERM and exits 143', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', '--log-format', 'json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let id: string | undefined;
    let work: string | undefined;
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the demo did not reach its rollout in 60 s:\n${out}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          id ??= /lab ([0-9a-f]{6}): node-a=/.exec(out)?.[1];
          work ??= /Policy repository at (\S+)\/policies;/.exec(out)?.[1];
          // The lab is up and the reconciler is rolling the first commit out: stop it here.
          if (id && work && /3\. Committed the good change/.test(out) && !child.killed) {
            clearTimeout(timer);
            child.kill('SIGTERM');
          }
        });
        child.on('exit', (c) => resolve(c));
      });
      expect(code, out).toBe(143);
      expect(out).toMatch(/SIGTERM: stopping and tearing down what was built/);
      expect(await listLabNamespaces(id)).toEqual([]);
      expect(existsSync(work!)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (id) await labDownById(id);
    }
  }, 90_000);
});
