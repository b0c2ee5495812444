import { describe, expect, it } from 'vitest';
import { formatText } from '../../src/plan/format-text.js';
import type { PlanReport } from '../../src/plan/plan-report.js';
import { change, HOSTS, K8S_WORKER, MANAGEMENT_SET, plan, SEED } from './fixtures.js';

const texts = (p: PlanReport) => p.reachability.map((r) => `${r.change} ${r.text}`);

/** Each kind of change a reviewer must see, one pull request each, with golden output. */
describe('reachability changes', () => {
  it('a rule opens a port: allow by the new rule, located on that rule', async () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('ports: [80, 443]', 'ports: [80, 443, 8080]') }));
    expect(texts(p)).toContain('opened node-a eth0 ingress tcp/8080 from 0.0.0.0/0: deny (policy k8s-worker, end of tier default) → allow (policy k8s-worker ingress rule 1 (Allow))');
    expect(p.reachability.find((r) => r.port === 8080)?.at).toEqual({ file: 'policies/k8s-worker.yaml', line: 14, col: 7 });
    expect(p.summary).toMatchObject({ hostsAffected: 2, connectionsClosed: 0 });
    await expect(formatText(p)).toMatchFileSnapshot('./golden/reach-rule-opens.txt');
  });

  it('a rule removed closes a port for everyone it allowed', async () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('ports: [80, 443]', 'ports: [443]') }));
    expect(texts(p)).toContain('closed node-b eth0 ingress tcp/80 from 0.0.0.0/0: allow (policy k8s-worker ingress rule 1 (Allow)) → deny (policy k8s-worker, end of tier default)');
    await expect(formatText(p)).toMatchFileSnapshot('./golden/reach-rule-closes.txt');
  });

  it('a new host endpoint switches its interface from unpoliced to default deny', async () => {
    const p = plan(SEED, change(SEED, { 'hosts-c.yaml': 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node-c-eth0\n  labels: { role: k8s-worker }\nspec:\n  node: node-c\n  interfaceName: eth0\n  expectedIPs: [198.18.0.13]\n' }));
    expect(texts(p)).toContain('closed node-c eth0 ingress tcp/33333 (any other port) from 0.0.0.0/0: no-policy (interface eth0 has no host endpoint) → deny (policy k8s-worker, end of tier default)');
    // node-a and node-b now also accept kubelet from node-c: the k8s-worker address set grew.
    expect(texts(p)).toContain('opened node-a eth0 ingress tcp/10250 from 198.18.0.13 (node-c): deny (policy k8s-worker, end of tier default) → allow (policy k8s-worker ingress rule 0 (Allow))');
    expect(p.hosts.find((h) => h.host === 'node-c')?.change).toBe('added');
    await expect(formatText(p)).toMatchFileSnapshot('./golden/reach-hep-added.txt');
  });

  it('a host endpoint removed leaves its interface unpoliced', async () => {
    const p = plan(SEED, change(SEED, { 'hosts.yaml': HOSTS.split('---\n')[0]! }));
    expect(texts(p)).toContain('opened node-b eth0 ingress tcp/33333 (any other port) from 0.0.0.0/0: deny (policy k8s-worker, end of tier default) → no-policy (interface eth0 has no host endpoint)');
    expect(p.hosts.find((h) => h.host === 'node-b')?.change).toBe('removed');
    await expect(formatText(p)).toMatchFileSnapshot('./golden/reach-hep-removed.txt');
  });

  it('egress: a policy restricting egress closes outbound traffic, DNS stays open by failsafe', async () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('  egress:\n    - action: Allow\n', '  egress:\n    - action: Allow\n      protocol: TCP\n      destination: { nets: [198.18.0.0/16] }\n') }));
    const egress = p.reachability.filter((r) => r.direction === 'egress');
    expect(egress.length).toBeGreaterThan(0);
    expect(egress.every((r) => r.change === 'closed')).toBe(true);
    expect(egress.some((r) => r.protocol === 'udp' && r.port === 53)).toBe(false);
    await expect(formatText(p)).toMatchFileSnapshot('./golden/reach-egress.txt');
  });

  it('a GlobalNetworkSet grows: the rule selecting it opens for the new net', async () => {
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
    const base = change(SEED, { 'policies/mgmt.yaml': mgmtSsh });
    const p = plan(base, change(base, { 'sets/management.yaml': MANAGEMENT_SET.replace('[198.18.100.0/24]', '[198.18.100.0/24, 203.0.113.0/24]') }));
    expect(texts(p)).toContain('opened node-a eth0 ingress tcp/9090 from 203.0.113.0/24 (GlobalNetworkSet management): deny (policy k8s-worker, end of tier default) → allow (policy web-from-management ingress rule 0 (Allow))');
    expect(p.reachability.every((r) => r.port === 9090 && r.change === 'opened')).toBe(true);
    await expect(formatText(p)).toMatchFileSnapshot('./golden/reach-network-set.txt');
  });

  it('nothing changes: no hosts, no connections', () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': `# a comment only\n${K8S_WORKER}` }));
    expect(p.summary).toMatchObject({ resourcesChanged: 0, hostsAffected: 0, connectionsOpened: 0, connectionsClosed: 0 });
  });
});
