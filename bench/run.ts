import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * `npm run bench [-- NAME...]`: every benchmark under bench/<area>/, one child process each (so
 * one's memory and timers cannot skew another's), in a fixed order. A name filters by area or
 * file (`npm run bench -- git compiler/compile`). Each script prints its figures next to a
 * baseline measured in the same run.
 */
const here = path.dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);

const scripts: string[] = [];
for (const area of (await readdir(here, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort()) {
  for (const file of (await readdir(path.join(here, area))).filter((f) => f.endsWith('.ts')).sort()) {
    const id = `${area}/${file.replace(/\.ts$/, '')}`;
    if (filters.length === 0 || filters.some((f) => id === f || id.startsWith(`${f}/`))) scripts.push(id);
  }
}
if (scripts.length === 0) {
  console.error(`no benchmark matches ${filters.join(' ')}`);
  process.exit(2);
}

const failed: string[] = [];
for (const id of scripts) {
  console.log(`\n=== ${id} ===`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, `${id}.ts`)], { stdio: 'inherit' });
    child.on('exit', resolve);
  });
  if (code !== 0) failed.push(`${id} (exit ${code})`);
}
console.log(`\n${scripts.length - failed.length} benchmarks ran, ${failed.length} failed${failed.length ? `: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length ? 1 : 0;
