import { computePlan, type PlanOptions } from '../../src/plan/compute-plan.js';
import type { PlanReport } from '../../src/plan/plan-report.js';

/** Policy repositories as path → YAML; `null` in a change deletes the file. */
export type Files = Record<string, string>;

export const HOSTS = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node-a-eth0
  labels: { role: k8s-worker }
spec:
  node: node-a
  interfaceName: eth0
  expectedIPs: [198.18.0.11]
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node-b-eth0
  labels: { role: k8s-worker }
spec:
  node: node-b
  interfaceName: eth0
  expectedIPs: [198.18.0.12]
`;

export const MANAGEMENT_SET = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata:
  name: management
  labels: { network: management }
spec:
  nets: [198.18.100.0/24]
`;

/** The Calico docs' k8s-worker policy: kubelet from workers, web from anywhere, the rest denied. */
export const K8S_WORKER = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: k8s-worker
spec:
  order: 100
  selector: role == 'k8s-worker'
  types: [Ingress, Egress]
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: role == 'k8s-worker' }
      destination: { ports: [10250] }
    - action: Allow
      protocol: TCP
      destination: { ports: [80, 443] }
  egress:
    - action: Allow
`;

/** SSH from the management network, as ordinary policy in a first tier. */
export const FAILSAFE_POLICY = `apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: failsafe
spec:
  order: 10
  defaultAction: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: failsafe.ssh
spec:
  tier: failsafe
  order: 0
  selector: has(role)
  ingress:
    - action: Allow
      protocol: TCP
      source: { selector: network == 'management' }
      destination: { ports: [22] }
`;

export const felix = (spec: string) => `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
${spec.replace(/^/gm, '  ')}
`;

/** The failsafe lists without tcp/22 (the "protected server" pruning). */
export const FELIX_WITHOUT_SSH = felix(`failsafeInboundHostPorts:
  - { protocol: UDP, port: 68 }
  - { protocol: TCP, port: 179 }
  - { protocol: TCP, port: 6443 }`);

export const SEED: Files = { 'hosts.yaml': HOSTS, 'sets/management.yaml': MANAGEMENT_SET, 'policies/k8s-worker.yaml': K8S_WORKER };

export function change(base: Files, edits: Record<string, string | null>): Files {
  const out = { ...base };
  for (const [path, content] of Object.entries(edits)) {
    if (content === null) delete out[path];
    else out[path] = content;
  }
  return out;
}

const files = (f: Files) => Object.entries(f).sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, content]) => ({ path, content }));

export function plan(base: Files, head: Files, opts: PlanOptions = {}): PlanReport {
  return computePlan({ ref: 'main', files: files(base) }, { ref: 'pr', files: files(head) }, opts);
}

/** Every box of the exact difference, as its one-line text, host by host. */
export const flows = (p: PlanReport): string[] => p.hosts.flatMap((h) => h.changes.map((c) => c.text));
