/**
 * A 1-file change in a 10,000-file repository: Palisade's diff next to `git diff-tree -r` on
 * the same two commits, measured in the same run (target: within 3x of git).
 * Run: node --import tsx bench/git/diff.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGitSource } from '../../src/git/source.js';

const DIRS = 100;
const FILES = 100;
const RUNS = 30;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (ns: bigint) => Number(ns) / 1e6;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), 'palisade-bench-diff-'));
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' } }).trim();
    git('init', '-q', '-b', 'main');
    git('config', 'gc.auto', '0'); // a background auto-gc would skew both timings
    for (let d = 0; d < DIRS; d++) {
      await mkdir(join(dir, `ns${d}`));
      await Promise.all(
        Array.from({ length: FILES }, (_, f) =>
          writeFile(join(dir, `ns${d}`, `policy-${f}.yaml`), `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: p-${d}-${f}\nspec:\n  selector: role == 'web'\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [${f}]}\n`),
        ),
      );
    }
    git('add', '-A');
    git('commit', '-qm', 'base');
    const a = git('rev-parse', 'HEAD');
    await writeFile(join(dir, 'ns42', 'policy-7.yaml'), 'changed: true\n');
    git('commit', '-qam', 'one file');
    const b = git('rev-parse', 'HEAD');

    for (const layout of ['loose', 'packed'] as const) {
      if (layout === 'packed') git('gc', '-q', '--aggressive');
      const gitTimes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = process.hrtime.bigint();
        const r = spawnSync('git', ['-C', dir, 'diff-tree', '-r', a, b], { encoding: 'utf8' });
        gitTimes.push(ms(process.hrtime.bigint() - t));
        if (!r.stdout.includes('ns42/policy-7.yaml')) throw new Error('git diff-tree disagrees');
      }
      const source = await openGitSource({ repo: dir, branch: 'main', cacheDir: join(dir, '.cache') });
      const t0 = process.hrtime.bigint();
      const first = await source.diff(a, b);
      const cold = ms(process.hrtime.bigint() - t0);
      if (first.length !== 1 || first[0]!.path !== 'ns42/policy-7.yaml') throw new Error(`unexpected diff ${JSON.stringify(first)}`);
      const ours: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t = process.hrtime.bigint();
        await source.diff(a, b);
        ours.push(ms(process.hrtime.bigint() - t));
      }
      const g = median(gitTimes);
      const p = median(ours);
      console.log(
        `${layout.padEnd(6)} 10,000 files, 1 changed: git diff-tree -r (incl. spawn) ${g.toFixed(2)} ms | palisade diff warm ${p.toFixed(2)} ms (cold ${cold.toFixed(1)} ms) | ratio ${(p / g).toFixed(2)}x (target <= 3x) ${p / g <= 3 ? 'OK' : 'MISSED'}`,
      );
      await source.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
