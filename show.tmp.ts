import { change, plan, SEED, K8S_WORKER, felix, FAILSAFE_POLICY, FELIX_WITHOUT_SSH, HOSTS, MANAGEMENT_SET } from './test/plan/fixtures.js';
const PROTECTED_SERVER = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: protected-server
spec:
  order: 10
  selector: role == 'k8s-worker'
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: network == 'management' }
      destination: { ports: [22] }
    - action: Deny
      protocol: TCP
      destination: { ports: [22] }
`;
const mgmtSsh = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: web-from-management
spec:
  order: 50
  selector: has(role)
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: network == 'management' }
      destination: { ports: [9090] }
`;
const ALLOW_NOTHING = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: bare
spec:
  selector: has(role)
  ingress: []
  egress: [{ action: Allow }]
`;
const nb = change(SEED, { 'policies/mgmt.yaml': mgmtSsh });
const b0 = { 'hosts.yaml': HOSTS, 'sets/management.yaml': MANAGEMENT_SET, 'allow-all.yaml': ALLOW_NOTHING };
const cases: Record<string, () => any> = {
  opens: () => plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('ports: [80, 443]', 'ports: [80, 443, 8080]') })),
  added: () => plan(SEED, change(SEED, { 'hosts-c.yaml': 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node-c-eth0\n  labels: { role: k8s-worker }\nspec:\n  node: node-c\n  interfaceName: eth0\n  expectedIPs: [198.18.0.13]\n' })),
  egress: () => plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('  egress:\n    - action: Allow\n', '  egress:\n    - action: Allow\n      protocol: TCP\n      destination: { nets: [198.18.0.0/16] }\n') })),
  netset: () => plan(nb, change(nb, { 'sets/management.yaml': MANAGEMENT_SET.replace('[198.18.100.0/24]', '[198.18.100.0/24, 203.0.113.0/24]') })),
  k8s: () => plan(b0, change(b0, { 'policies/k8s-worker.yaml': K8S_WORKER, 'allow-all.yaml': null })),
  fspolicy: () => plan(SEED, change(SEED, { 'felix.yaml': felix('failsafeInboundHostPorts: []'), 'failsafe.yaml': FAILSAFE_POLICY })),
  unpruned: () => plan(SEED, change(SEED, { 'policies/protected.yaml': PROTECTED_SERVER })),
  pruned: () => plan(SEED, change(SEED, { 'policies/protected.yaml': PROTECTED_SERVER, 'felix.yaml': FELIX_WITHOUT_SSH })),
};
for (const w of process.argv.slice(2)) {
  const p = cases[w]!();
  console.log(`== ${w}: ${p.outcome} dangers=${p.dangers.length} lints=${p.lints.map((l: any) => l.code + '@' + l.file + ':' + l.line).join(',')}`);
  for (const h of p.hosts) for (const c of h.changes) if (c.host === undefined && c.text.startsWith('node-a')) console.log('  ', c.change, c.text);
}
