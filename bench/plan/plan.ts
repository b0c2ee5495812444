/**
 * `node --import tsx bench/plan/plan.ts`: the plan of a change touching 10 policies in a
 * repository of 1,000 policies and 1,000 host endpoints (target ≤ 3 s), next to the time it
 * takes just to load and validate both revisions, measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { computePlan } from '../../src/plan/compute-plan.js';
import { loadRevision, type RevisionFiles } from '../../src/plan/revision.js';

const HOSTS = 1000;
const POLICIES = 1000;
const ROLES = 100;

function hep(i: number): string {
  const ip = `10.${Math.floor(i / 250)}.${i % 250}.10`;
  return `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node-${i}-eth0
  labels: { role: role-${i % ROLES}, zone: zone-${i % 4} }
spec:
  node: node-${i}
  interfaceName: eth0
  expectedIPs: [${ip}]
`;
}

function policy(i: number, port: number): string {
  return `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: policy-${i}
spec:
  order: ${i}
  selector: role == 'role-${i % ROLES}'
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: role == 'role-${(i + 1) % ROLES}' }
      destination: { ports: [${port}] }
    - action: Allow
      protocol: UDP
      source: { nets: [172.16.${i % 256}.0/24] }
      destination: { ports: [${port + 1}] }
  egress:
    - action: Allow
`;
}

function revision(ref: string, changed: boolean): RevisionFiles {
  const files = [
    { path: 'sets/management.yaml', content: 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: { name: management, labels: { network: management } }\nspec: { nets: [192.168.100.0/24] }\n' },
    ...Array.from({ length: HOSTS }, (_, i) => ({ path: `hosts/node-${i}.yaml`, content: hep(i) })),
    ...Array.from({ length: POLICIES }, (_, i) => ({ path: `policies/policy-${i}.yaml`, content: policy(i, changed && i % 100 === 0 ? 9000 + i : 8000 + (i % 500)) })),
  ];
  return { ref, files };
}

const base = revision('main', false);
const head = revision('pr', true);

function time(f: () => unknown): number {
  const t = performance.now();
  f();
  return performance.now() - t;
}

// One warm-up of each, so both figures measure steady-state code, not module loading and JIT.
time(() => [loadRevision(base), loadRevision(head)]);
const report = computePlan(base, head);
const runs = 3;
const baseline = Math.min(...Array.from({ length: runs }, () => time(() => [loadRevision(base), loadRevision(head)])));
const planned = Math.min(...Array.from({ length: runs }, () => time(() => computePlan(base, head))));

console.log(`repository: ${POLICIES} policies, ${HOSTS} host endpoints; change: 10 policies`);
console.log(`plan: ${report.summary.hostsAffected} hosts affected, ${report.summary.connectionsOpened} opened, ${report.summary.connectionsClosed} closed, ${report.summary.probes} probes, ${report.lints.length} lints`);
console.log(`load+validate both revisions (baseline): ${(baseline / 1000).toFixed(2)} s`);
console.log(`palisade plan (computePlan):              ${(planned / 1000).toFixed(2)} s  (target ≤ 3 s) — ${(planned / baseline).toFixed(1)}× the baseline`);
