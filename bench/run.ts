/**
 * `npm run bench`: every benchmark, one after the other (they would disturb each other's timings
 * in parallel), then the differential test with many more cases than CI runs.
 * PALISADE_DIFF_RUNS sets that count (default 3,000); the dataplane benchmarks need root.
 */
import { spawnSync } from 'node:child_process';

const benches = ['bench/compiler/compile.ts', 'bench/dataplane/load.ts', 'bench/dataplane/connect-latency.ts'];
const root = typeof process.getuid === 'function' && process.getuid() === 0;
let failed = 0;
const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) => {
  console.log(`\n$ ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env, timeout: 30 * 60_000 });
  if (r.status !== 0) failed++;
};
for (const b of benches) {
  if (b.startsWith('bench/dataplane/') && !root) {
    console.log(`\nskipped ${b}: needs root (network namespaces)`);
    continue;
  }
  run(process.execPath, ['--import', 'tsx', b]);
}
run('npx', ['vitest', 'run', 'test/dataplane/differential.test.ts'], { ...process.env, PALISADE_DIFF_RUNS: process.env.PALISADE_DIFF_RUNS ?? '3000' });
process.exitCode = failed > 0 ? 1 : 0;
