import { describe, expect, it } from 'vitest';
import { exitCode } from '../../src/cli/plan.js';
import { formatText } from '../../src/plan/format-text.js';
import { PlanReport } from '../../src/plan/plan-report.js';
import { change, FAILSAFE_POLICY, felix, FELIX_WITHOUT_SSH, flows, HOSTS, K8S_WORKER, MANAGEMENT_SET, plan, SEED } from './fixtures.js';

const golden = (name: string) => `./golden/${name}.txt`;
const texts = flows;

// The seed scenarios of the Calico host-protection docs, planned as pull requests.
describe('seed scenarios', () => {
  it('k8s-worker added to unprotected hosts: kubelet from workers and web from anywhere open; the rest stays closed', async () => {
    const base = { 'hosts.yaml': HOSTS, 'sets/management.yaml': MANAGEMENT_SET, 'allow-all.yaml': ALLOW_NOTHING };
    const p = plan(base, change(base, { 'policies/k8s-worker.yaml': K8S_WORKER, 'allow-all.yaml': null }));
    expect(PlanReport.parse(p)).toEqual(p);
    expect(texts(p).filter((t) => t.startsWith('node-a, eth0 ingress'))).toEqual([
      'node-a, eth0 ingress tcp/10250 from 198.18.0.11/32, 198.18.0.12/32: deny (HostEndpoint node-a-eth0 has no ingress policy or profile: default drop) → allow (policy k8s-worker ingress rule 0 (Allow))',
      'node-a, eth0 ingress tcp/80,443 from 0.0.0.0/0: deny (HostEndpoint node-a-eth0 has no ingress policy or profile: default drop) → allow (policy k8s-worker ingress rule 1 (Allow))',
      'node-a, eth0 ingress tcp/80,443 from ::/0: deny (HostEndpoint node-a-eth0 has no ingress policy or profile: default drop) → allow (policy k8s-worker ingress rule 1 (Allow))',
    ]);
    expect(p.outcome).toBe('fine');
    await expect(formatText(p)).toMatchFileSnapshot(golden('seed-k8s-worker'));
  });

  it('lockout: failsafe emptied, SSH from the management network closes on every host: DANGER, exit 2 unless --allow-danger', async () => {
    const p = plan(SEED, change(SEED, { 'felix.yaml': felix('failsafeInboundHostPorts: []') }));
    expect(p.outcome).toBe('dangerous');
    expect(p.dangers.map((d) => `${d.check}: ${d.change.text}`)).toEqual([
      'ssh-from-management: node-a, eth0 ingress tcp/22 from 198.18.100.0/24 to 198.18.0.11/32: allow (failsafe tcp/22) → deny (policy k8s-worker, end of tier default)',
      'ssh-from-management: node-b, eth0 ingress tcp/22 from 198.18.100.0/24 to 198.18.0.12/32: allow (failsafe tcp/22) → deny (policy k8s-worker, end of tier default)',
    ]);
    expect(p.dangers[0]!.change.at).toEqual({ file: 'felix.yaml', line: 6, col: 3 });
    expect(p.lints.map((l) => l.code)).toEqual(['failsafe-emptied-without-ssh']);
    expect(exitCode(p, false)).toBe(2);
    expect(exitCode(p, true)).toBe(0);
    await expect(formatText(p)).toMatchFileSnapshot(golden('seed-failsafe-emptied'));
  });

  it('the failsafe policy: failsafes emptied but SSH re-created as policy in a first tier: no danger', async () => {
    const p = plan(SEED, change(SEED, { 'felix.yaml': felix('failsafeInboundHostPorts: []'), 'failsafe.yaml': FAILSAFE_POLICY }));
    expect(p.outcome).toBe('fine');
    // Exactly the management network keeps SSH: the box is everything else.
    expect(texts(p)).toContain('node-a, eth0 ingress tcp/22 from 0.0.0.0/0 except 198.18.100.0/24: allow (failsafe tcp/22) → deny (policy k8s-worker, end of tier default)');
    expect(p.dangers).toEqual([]);
    expect(p.lints).toEqual([]);
    await expect(formatText(p)).toMatchFileSnapshot(golden('seed-failsafe-policy'));
  });

  it('protected server without pruning the failsafe port: the SSH restriction changes nothing and is linted', async () => {
    const p = plan(SEED, change(SEED, { 'policies/protected.yaml': PROTECTED_SERVER }));
    expect(texts(p)).toEqual([]);
    expect(p.lints.map((l) => [l.code, `${l.file}:${l.line}`])).toEqual([
      ['failsafe-port-restricted', 'policies/protected.yaml:12'],
      ['failsafe-port-restricted', 'policies/protected.yaml:15'],
    ]);
    await expect(formatText(p)).toMatchFileSnapshot(golden('seed-protected-server-unpruned'));
  });

  it('protected server with the failsafe port pruned: SSH closes for strangers, stays open from management', async () => {
    const p = plan(SEED, change(SEED, { 'policies/protected.yaml': PROTECTED_SERVER, 'felix.yaml': FELIX_WITHOUT_SSH }));
    expect(texts(p)).toContain('node-a, eth0 ingress tcp/22 from 0.0.0.0/0 except 198.18.100.0/24: allow (failsafe tcp/22) → deny (policy protected-server ingress rule 1 (Deny))');
    expect(p.dangers).toEqual([]);
    expect(p.lints).toEqual([]);
    await expect(formatText(p)).toMatchFileSnapshot(golden('seed-protected-server-pruned'));
  });
});

const ALLOW_NOTHING = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: bare
spec:
  selector: has(role)
  ingress: []
  egress: [{ action: Allow }]
`;

export const PROTECTED_SERVER = `apiVersion: projectcalico.org/v3
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
