/**
 * `node --import tsx bench/plan/plan.ts` (or `npm run bench -- plan`): the exact plan of a change
 * touching 10 policies in a repository of 1,000 HostEndpoints and 2,000 rules across 200
 * GlobalNetworkPolicies in 3 tiers (target ≤ 10 s), next to the time it takes just to load and
 * validate both revisions, measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { computePlan } from '../../src/plan/compute-plan.js';
import { loadRevision, type RevisionFiles } from '../../src/plan/revision.js';

const HOSTS = 1000;
const POLICIES = 200;
const RULES = 10;
const ROLES = 50;
const TIERS = ['platform', 'security', 'default'] as const;

function hep(i: number): string {
  return `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node-${i}-eth0
  labels: { role: role-${i % ROLES}, zone: zone-${i % 4} }
spec:
  node: node-${i}
  interfaceName: eth0
  expectedIPs: [10.${Math.floor(i / 250)}.${i % 250}.10]
`;
}

/** Ten rules: allows from a role's address set, from nets, ports ranges, a deny, ICMP, egress. */
function rules(i: number, changed: boolean): { ingress: string[]; egress: string[] } {
  const port = 8000 + (i % 500) + (changed ? 1 : 0);
  const ingress = [
    `- { action: Allow, protocol: TCP, source: { selector: "role == 'role-${(i + 1) % ROLES}'" }, destination: { ports: [${port}] } }`,
    `- { action: Allow, protocol: UDP, source: { nets: [172.16.${i % 256}.0/24] }, destination: { ports: [${port + 1}] } }`,
    `- { action: Deny, protocol: TCP, source: { nets: [172.16.${i % 256}.128/25] }, destination: { ports: ["9000:9100"] } }`,
    `- { action: Allow, protocol: TCP, source: { nets: [172.16.0.0/12], notNets: [172.16.${i % 256}.0/24] }, destination: { ports: ["9000:9100"] } }`,
    `- { action: Allow, protocol: ICMP, icmp: { type: 8 }, source: { selector: "zone == 'zone-${i % 4}'" } }`,
    `- { action: Deny, protocol: TCP, destination: { ports: [${changed ? 23 : 2323}] } }`,
    `- { action: ${i % 3 === 0 ? 'Pass' : 'Allow'}, protocol: TCP, source: { selector: "role == 'role-${(i + 7) % ROLES}'" }, destination: { ports: [443, 8443] } }`,
  ];
  const egress = [
    `- { action: Allow, protocol: UDP, destination: { ports: [53] } }`,
    `- { action: Allow, protocol: TCP, destination: { selector: "role == 'role-${(i + 3) % ROLES}'", ports: [${port}] } }`,
    `- { action: Allow, destination: { nets: [10.0.0.0/8] } }`,
  ];
  return { ingress, egress };
}

function policy(i: number, changed: boolean): string {
  const tier = TIERS[i % TIERS.length]!;
  const { ingress, egress } = rules(i, changed);
  return `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ${tier === 'default' ? '' : `${tier}.`}policy-${i}
spec:
  tier: ${tier}
  order: ${i}
  selector: role == 'role-${i % ROLES}'
  types: [Ingress, Egress]
  ingress:
${ingress.map((r) => `    ${r}`).join('\n')}
  egress:
${egress.map((r) => `    ${r}`).join('\n')}
`;
}

const TIER_FILES = TIERS.filter((t) => t !== 'default').map((t, i) => ({
  path: `tiers/${t}.yaml`,
  content: `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: { name: ${t} }\nspec: { order: ${(i + 1) * 100}, defaultAction: Pass }\n`,
}));

function revision(ref: string, changed: boolean): RevisionFiles {
  const files = [
    { path: 'sets/management.yaml', content: 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: { name: management, labels: { network: management } }\nspec: { nets: [192.168.100.0/24] }\n' },
    ...TIER_FILES,
    ...Array.from({ length: HOSTS }, (_, i) => ({ path: `hosts/node-${i}.yaml`, content: hep(i) })),
    ...Array.from({ length: POLICIES }, (_, i) => ({ path: `policies/policy-${i}.yaml`, content: policy(i, changed && i % 20 === 0) })),
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

const s = report.summary;
console.log(`repository: ${HOSTS} host endpoints, ${POLICIES} policies × ${RULES} rules in ${TIERS.length} tiers; change: 10 policies`);
console.log(`plan: ${s.hostsAffected} hosts affected, ${s.connectionsOpened} boxes opened, ${s.connectionsClosed} closed, ${s.flowsChanged} in all, ${s.dangers} dangers, ${report.lints.length} lints`);
console.log(`load+validate both revisions (baseline): ${(baseline / 1000).toFixed(2)} s`);
console.log(`palisade plan, exact (computePlan):       ${(planned / 1000).toFixed(2)} s  (target ≤ 10 s) — ${(planned / baseline).toFixed(1)}× the baseline`);
