import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [-- NAME...]`: every benchmark under bench/<area>/, one child process each (so
 * one's memory and timers cannot skew another's), in a fixed order, then the simulator-vs-kernel
 * differential test with many more cases than CI runs (PALISADE_DIFF_RUNS, default 3,000).
 * A name filters by area or file (`npm run bench -- git compiler/compile differential`). Each
 * script prints its figures next to a baseline measured in the same run. Benchmarks that build
 * network namespaces (dataplane, etcd) need root and are skipped without it.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const root = process.getuid?.() === 0;
const NEEDS_ROOT = new Set(['dataplane', 'etcd', 'ssh']);
const selected = (id: string) => filters.length === 0 || filters.some((f) => id === f || id.startsWith(`${f}/`));

const scripts: string[] = [];
for (const area of (await readdir(here, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'support').map((d) => d.name).sort()) {
  for (const file of (await readdir(path.join(here, area))).filter((f) => f.endsWith('.ts')).sort()) {
    const id = `${area}/${file.replace(/\.ts$/, '')}`;
    if (selected(id)) scripts.push(id);
  }
}
const differential = selected('differential');
if (scripts.length === 0 && !differential) {
  console.error(`no benchmark matches ${filters.join(' ')}`);
  process.exit(2);
}

const failed: string[] = [];
let ran = 0;
const runChild = (id: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env) =>
  new Promise<void>((resolve) => {
    console.log(`\n=== ${id} ===`);
    ran++;
    spawn(command, args, { stdio: 'inherit', env }).on('exit', (code) => {
      if (code !== 0) failed.push(`${id} (exit ${code})`);
      resolve();
    });
  });
for (const id of scripts) {
  if (NEEDS_ROOT.has(id.split('/')[0]!) && !root) {
    console.log(`\n=== ${id} === skipped: needs root (network namespaces)`);
    continue;
  }
  await runChild(id, process.execPath, ['--import', 'tsx', path.join(here, `${id}.ts`)]);
}
if (differential && root) {
  const runs = process.env.PALISADE_DIFF_RUNS ?? '3000';
  await runChild(`differential (${runs} cases)`, 'npx', ['vitest', 'run', 'test/dataplane/differential.test.ts'], { ...process.env, PALISADE_DIFF_RUNS: runs });
}
console.log(`\n${ran - failed.length} benchmarks ran, ${failed.length} failed${failed.length ? `: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length ? 1 : 0;
