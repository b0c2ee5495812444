/**
 * Compile + render for 1,000 policies and 1,000 host endpoints on 100 hosts, and an incremental
 * one-policy change. Baseline, measured in the same run: structuredClone of the desired state
 * (touching every resource once). Targets: full ≤ 2 s, incremental ≤ 50 ms.
 *   node --import tsx bench/compiler/compile.ts
 */
import { performance } from 'node:perf_hooks';
import { compileHosts, IncrementalCompiler, type HostFacts } from '../../src/compiler/index.js';
import { renderNft } from '../../src/dataplane/index.js';
import { stateOf } from '../../test/support/policy-fixtures.js';

const HOSTS = 100;
const HEPS_PER_HOST = 10;
const POLICIES = 1000;

function fleet(changedPort = 22) {
  const docs: Record<string, unknown>[] = [];
  const hosts: HostFacts[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const interfaces: HostFacts['interfaces'] = [];
    for (let e = 0; e < HEPS_PER_HOST; e++) {
      const ip = `198.18.${h}.${e + 1}`;
      interfaces.push({ name: `eth${e}`, addresses: [`${ip}/24`] });
      docs.push({ kind: 'HostEndpoint', metadata: { name: `h${h}-eth${e}`, labels: { host: `h${h}`, role: `r${e}`, zone: `z${h % 10}` } }, spec: { node: `n${h}`, interfaceName: `eth${e}`, expectedIPs: [ip] } });
    }
    hosts.push({ node: `n${h}`, interfaces });
  }
  for (let s = 0; s < 50; s++) docs.push({ kind: 'GlobalNetworkSet', metadata: { name: `set${s}`, labels: { grp: `g${s % 10}` } }, spec: { nets: Array.from({ length: 20 }, (_, i) => `10.${s}.${i}.0/24`) } });
  for (let p = 0; p < POLICIES; p++) {
    docs.push({
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `p${p}` },
      spec: {
        order: p % 50,
        selector: `role == 'r${p % HEPS_PER_HOST}' && zone == 'z${p % 10}'`,
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: `grp == 'g${p % 10}'` }, destination: { ports: [p === 0 ? changedPort : 22, '8000:8100'] } },
          { action: 'Deny', protocol: 'UDP', source: { nets: ['10.0.0.0/8'] } },
        ],
        egress: [{ action: 'Allow', destination: { selector: `zone == 'z${(p + 1) % 10}'` } }],
      },
    });
  }
  return { state: stateOf(...docs), hosts };
}

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
const inc = new IncrementalCompiler(hosts);
inc.update(state);
const [, incremental] = time(() => inc.update(changed));
const line = (name: string, ms: number) => console.log(`${name.padEnd(44)} ${ms.toFixed(1).padStart(8)} ms  ratio ${(ms / baseline).toFixed(1)}x baseline`);
console.log(`baseline structuredClone(desired state)       ${baseline.toFixed(1).padStart(8)} ms`);
line(`full compile+render (${POLICIES} GNP, ${HOSTS * HEPS_PER_HOST} HEP, ${HOSTS} hosts)`, full);
line('per host', full / HOSTS);
line(`incremental one-policy change (${inc.lastRecompiled.length} hosts)`, incremental);
console.log(`targets: full ≤ 2000 ms: ${full <= 2000 ? 'met' : 'MISSED'}; incremental ≤ 50 ms: ${incremental <= 50 ? 'met' : 'MISSED'}`);
