/**
 * Compile + render for 1,000 policies and 1,000 host endpoints on 100 hosts, and a one-policy
 * change compiled the reconciler's way (every host, with the compile cache of the revision before). Baseline, measured in the same run: structuredClone of the desired state
 * (touching every resource once). Target: full ≤ 2 s.
 *   node --import tsx bench/compiler/compile.ts
 */
import { performance } from 'node:perf_hooks';
import { CompileCache } from '../../src/compiler/cache.js';
import { compileHostIn } from '../../src/compiler/compile.js';
import { CompileContext } from '../../src/compiler/context.js';
import { compileHosts } from '../../src/compiler/index.js';
import { renderNft } from '../../src/dataplane/index.js';
import { fleet, HEPS_PER_HOST, HOSTS, POLICIES } from './fleet.js';

const time = <T>(f: () => T): [T, number] => {
  const t = performance.now();
  const r = f();
  return [r, performance.now() - t];
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const { state, hosts } = fleet();
const changed = fleet(2222).state;
const baseline = median(Array.from({ length: 5 }, () => time(() => structuredClone(state))[1]));
const full = median(
  Array.from({ length: 3 }, () => time(() => {
    for (const p of compileHosts(state, hosts).values()) renderNft(p);
  })[1]),
);
const cache = new CompileCache();
const revision = (s: typeof state) => {
  cache.rotate();
  const context = new CompileContext(s, cache);
  for (const h of hosts) renderNft(compileHostIn(context, h));
};
revision(state);
// Alternating between the two states makes every revision the same one-policy change.
const warm = median(Array.from({ length: 9 }, (_, i) => time(() => revision(i % 2 === 0 ? changed : state))[1]));
const line = (name: string, ms: number) => console.log(`${name.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ratio ${(ms / baseline).toFixed(1)}x baseline`);
console.log(`baseline structuredClone(desired state)       ${baseline.toFixed(1).padStart(8)} ms`);
line(`full compile+render (${POLICIES} GNP, ${HOSTS * HEPS_PER_HOST} HEP, ${HOSTS} hosts)`, full);
line('per host', full / HOSTS);
line(`one-policy change, warm cache (${HOSTS} hosts)`, warm);
console.log(`target: full ≤ 2000 ms: ${full <= 2000 ? 'met' : 'MISSED'}`);
