import type { EventOf, PalisadeEvent } from '../../src/eventlog/events.js';
import type { HostDriver } from '../../src/hosts/host-driver.js';
import { hostAddress } from '../../src/lab/lab.js';
import type { TestRepo } from './repo.js';

/**
 * Policy-repository fixtures shared by the rollout e2e tests: five lab hosts in three rings, so
 * palisade.yaml can place them in waves by count (canary), selector (ring two) and "the rest".
 */
export const FIVE_HOSTS = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'] as const;
export const RING: Record<string, string> = { 'node-a': 'one', 'node-b': 'two', 'node-c': 'two', 'node-d': 'three', 'node-e': 'three' };

export const hostEndpoints = (hosts: readonly string[] = FIVE_HOSTS) =>
  hosts
    .map(
      (name, i) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${name}-eth0
  labels:
    role: k8s-worker
    ring: ${RING[name] ?? 'three'}
spec:
  node: ${name}
  interfaceName: eth0
  expectedIPs: ["${hostAddress(i)}"]
`,
    )
    .join('---\n');

/** Workers accept these TCP ports; SSH stays open through Felix's default failsafe ports; the rest is dropped. */
export const webPolicy = (ports: number[]) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: k8s-worker
spec:
  order: 100
  selector: role == 'k8s-worker'
  ingress:
    - action: Allow
      protocol: TCP
      destination:
        ports: [${ports.join(', ')}]
  egress:
    - action: Allow
`;

/** No failsafe ports: SSH is then only as open as the policies make it. */
export const NO_FAILSAFES = `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata:
  name: default
spec:
  failsafeInboundHostPorts: []
  failsafeOutboundHostPorts: []
`;

export const sshPolicy = (name: string, action: 'Allow' | 'Deny', selector: string, order: number) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ${name}
spec:
  order: ${order}
  selector: ${selector}
  ingress:
    - action: ${action}
      protocol: TCP
      destination:
        ports: [22]
`;

/** Three waves: the canary (node-a), ring two by selector (node-b, node-c), the rest (node-d, node-e). */
export const rolloutYaml = (extra: string) => `waves:
  - name: canary
    count: 1
  - name: ring-two
    selector: ring == 'two'
  - name: rest
concurrency: 4
${extra}`;

/** Commits exactly `files` (anything else the repository held is deleted). */
export async function commitExactly(repo: TestRepo, files: Record<string, string>, message: string): Promise<string> {
  const gone = Object.fromEntries(Object.keys(repo.snapshot()).filter((f) => !(f in files)).map((f) => [f, null]));
  return repo.commit({ ...gone, ...files }, message);
}

export type Transition = EventOf<'HostTransition'>;

export const transitionsOf = (events: readonly PalisadeEvent[], revision: string): Transition[] =>
  events.filter((e): e is Transition => e.type === 'HostTransition' && e.revision === revision);

/** Every host's Palisade table as the kernel lists it (`null`: no table). */
export async function tables(drivers: ReadonlyMap<string, HostDriver>): Promise<Record<string, string | null>> {
  return Object.fromEntries(await Promise.all([...drivers].map(async ([name, d]) => [name, await d.current()] as const)));
}

/** Polls `read` every 50 ms until `found` returns a value; bounded by `timeoutMs`. */
export async function waitFor<T>(what: string, read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await read();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
