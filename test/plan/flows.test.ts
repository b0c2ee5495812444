import { describe, expect, it } from 'vitest';
import { formatText } from '../../src/plan/format-text.js';
import type { PlanReport } from '../../src/plan/plan-report.js';
import { change, flows, HOSTS, K8S_WORKER, MANAGEMENT_SET, plan, SEED } from './fixtures.js';

const on = (p: PlanReport, host: string) => flows(p).filter((t) => t.startsWith(`${host},`));

/** Each kind of change a reviewer must see, one pull request each, with golden output: the exact difference, box by box. */
describe('flow changes (exact)', () => {
  it('a rule opens a port: exactly tcp/8080 from everywhere, both families, located on that rule', async () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('ports: [80, 443]', 'ports: [80, 443, 8080]') }));
    expect(on(p, 'node-a')).toEqual([
      'node-a, eth0 ingress tcp/8080 from 0.0.0.0/0: deny (policy k8s-worker, end of tier default) → allow (policy k8s-worker ingress rule 1 (Allow))',
      'node-a, eth0 ingress tcp/8080 from ::/0: deny (policy k8s-worker, end of tier default) → allow (policy k8s-worker ingress rule 1 (Allow))',
    ]);
    const box = p.hosts[0]!.changes[0]!;
    expect(box).toMatchObject({ direction: 'ingress', interface: 'eth0', before: 'deny', after: 'allow', protocol: 'tcp', src: ['0.0.0.0/0'], dst: ['0.0.0.0/0'], srcPorts: [[0, 65535]], dstPorts: [[8080, 8080]], at: { file: 'policies/k8s-worker.yaml', line: 14, col: 7 } });
    expect(p.hosts.every((h) => h.complete)).toBe(true);
    expect(p.summary).toMatchObject({ hostsAffected: 2, connectionsOpened: 4, connectionsClosed: 0 });
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-rule-opens.txt');
  });

  it('a rule narrowed closes exactly the port it no longer allows, located on the rule', async () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('ports: [80, 443]', 'ports: [443]') }));
    expect(on(p, 'node-b')).toEqual([
      'node-b, eth0 ingress tcp/80 from 0.0.0.0/0: allow (policy k8s-worker ingress rule 1 (Allow)) → deny (policy k8s-worker, end of tier default)',
      'node-b, eth0 ingress tcp/80 from ::/0: allow (policy k8s-worker ingress rule 1 (Allow)) → deny (policy k8s-worker, end of tier default)',
    ]);
    expect(p.hosts[0]!.changes[0]!.at).toEqual({ file: 'policies/k8s-worker.yaml', line: 14, col: 7 });
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-rule-closes.txt');
  });

  it('a new host endpoint: its interface goes from unpoliced to policed, and the others accept kubelet from it (the address set grew)', async () => {
    const p = plan(SEED, change(SEED, { 'hosts-c.yaml': 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: node-c-eth0\n  labels: { role: k8s-worker }\nspec:\n  node: node-c\n  interfaceName: eth0\n  expectedIPs: [198.18.0.13]\n' }));
    expect(on(p, 'node-a')).toEqual(['node-a, eth0 ingress tcp/10250 from 198.18.0.13/32: deny (policy k8s-worker, end of tier default) → allow (policy k8s-worker ingress rule 0 (Allow))']);
    expect(on(p, 'node-c')).toContain('node-c, eth0 ingress any except icmp, tcp, udp, sctp from 0.0.0.0/0: no-policy (interface eth0 has no host endpoint) → deny (policy k8s-worker, end of tier default)');
    expect(p.hosts.find((h) => h.host === 'node-c')?.change).toBe('added');
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-hep-added.txt');
  });

  it('a host endpoint removed leaves its interface unpoliced: every denied flow opens', async () => {
    const p = plan(SEED, change(SEED, { 'hosts.yaml': HOSTS.split('---\n')[0]! }));
    expect(on(p, 'node-b')).toContain('node-b, eth0 ingress icmp from 0.0.0.0/0: deny (policy k8s-worker, end of tier default) → no-policy (interface eth0 has no host endpoint)');
    expect(p.hosts.find((h) => h.host === 'node-b')?.change).toBe('removed');
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-hep-removed.txt');
  });

  it('egress restricted: everything outside 198.18.0.0/16 closes, except what the failsafes keep (DNS, DHCP, BGP, etcd, …)', async () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('  egress:\n    - action: Allow\n', '  egress:\n    - action: Allow\n      protocol: TCP\n      destination: { nets: [198.18.0.0/16] }\n') }));
    expect(on(p, 'node-a')).toContain(
      'node-a, eth0 egress tcp/0-178,180-2378,2381-5472,5474-6442,6444-6665,6668-65535 from 0.0.0.0/0 to 0.0.0.0/0 except 198.18.0.0/16: allow (policy k8s-worker egress rule 0 (Allow)) → deny (policy k8s-worker, end of tier default)',
    );
    expect(on(p, 'node-a')).toContain('node-a, eth0 egress udp/0-52,54-66,68-65535 from 0.0.0.0/0: allow (policy k8s-worker egress rule 0 (Allow)) → deny (policy k8s-worker, end of tier default)');
    expect(p.hosts.flatMap((h) => h.changes).every((c) => c.direction === 'egress' && c.change === 'closed')).toBe(true);
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-egress.txt');
  });

  it('a GlobalNetworkSet grows: the rule selecting it opens for exactly the new net', async () => {
    const mgmt = `apiVersion: projectcalico.org/v3
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
    const base = change(SEED, { 'policies/mgmt.yaml': mgmt });
    const p = plan(base, change(base, { 'sets/management.yaml': MANAGEMENT_SET.replace('[198.18.100.0/24]', '[198.18.100.0/24, 203.0.113.0/24]') }));
    expect(flows(p)).toEqual([
      'node-a, eth0 ingress tcp/9090 from 203.0.113.0/24: deny (policy k8s-worker, end of tier default) → allow (policy web-from-management ingress rule 0 (Allow))',
      'node-b, eth0 ingress tcp/9090 from 203.0.113.0/24: deny (policy k8s-worker, end of tier default) → allow (policy web-from-management ingress rule 0 (Allow))',
    ]);
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-network-set.txt');
  });

  it('the /26 written where /27 was meant: exactly the second half of the /26 opens, and nothing else', async () => {
    const db = (net: string) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: db-from-app
spec:
  order: 10
  selector: role == 'k8s-worker'
  ingress:
    - action: Allow
      protocol: TCP
      source: { nets: [${net}] }
      destination: { ports: [5432] }
`;
    const base = change(SEED, { 'policies/db.yaml': db('198.18.5.0/27') });
    const p = plan(base, change(base, { 'policies/db.yaml': db('198.18.5.0/26') }));
    expect(flows(p)).toEqual([
      'node-a, eth0 ingress tcp/5432 from 198.18.5.32/27: deny (policy k8s-worker, end of tier default) → allow (policy db-from-app ingress rule 0 (Allow))',
      'node-b, eth0 ingress tcp/5432 from 198.18.5.32/27: deny (policy k8s-worker, end of tier default) → allow (policy db-from-app ingress rule 0 (Allow))',
    ]);
    expect(p.hosts[0]!.changes[0]).toMatchObject({ src: ['198.18.5.32/27'], dstPorts: [[5432, 5432]], at: { file: 'policies/db.yaml', line: 9, col: 7 } });
    await expect(formatText(p)).toMatchFileSnapshot('./golden/flows-26-vs-27.txt');
  });

  it('nothing changes: no hosts, no flows', () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': `# a comment only\n${K8S_WORKER}` }));
    expect(p.summary).toMatchObject({ resourcesChanged: 0, hostsAffected: 0, flowsChanged: 0, connectionsOpened: 0, connectionsClosed: 0 });
  });
});
