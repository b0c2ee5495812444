import { describe, expect, it } from 'vitest';
import { formatText } from '../../src/plan/format-text.js';
import { LINT_CODES, type LintCode } from '../../src/plan/plan-report.js';
import { change, felix, HOSTS, K8S_WORKER, plan, SEED } from './fixtures.js';

const gnp = (name: string, spec: string) => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ${name}
spec:
${spec.replace(/^/gm, '  ')}
`;

/** One pull request per lint: the head introduces exactly the problem, nothing else. */
const CASES: Record<LintCode, { edits: Record<string, string | null>; at: string }> = {
  'failsafe-port-restricted': {
    edits: { 'policies/ssh.yaml': gnp('ssh-from-jump', "order: 10\nselector: has(role)\ningress:\n  - action: Allow\n    protocol: TCP\n    source: { nets: [198.18.100.0/24] }\n    destination: { ports: [22] }") },
    at: 'policies/ssh.yaml:12',
  },
  'failsafe-emptied-without-ssh': { edits: { 'felix.yaml': felix('failsafeInboundHostPorts: []') }, at: 'felix.yaml:6' },
  'host-endpoint-unprotected': {
    edits: { 'hosts-db.yaml': 'apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: db-eth0\n  labels: { role: db }\nspec:\n  node: db\n  interfaceName: eth0\n  expectedIPs: [198.18.0.20]\n' },
    at: 'hosts-db.yaml:5',
  },
  'host-endpoint-without-ips-selected': {
    edits: { 'hosts.yaml': HOSTS.replace('  expectedIPs: [198.18.0.12]\n', '') },
    at: 'hosts.yaml:16',
  },
  'policy-selects-nothing': { edits: { 'policies/typo.yaml': gnp('typo', "selector: role == 'k8s-wroker'\ningress: [{ action: Allow }]") }, at: 'policies/typo.yaml:6' },
  'rule-selector-empty': {
    edits: { 'policies/nobody.yaml': gnp('nobody', "order: 5\nselector: has(role)\ningress:\n  - action: Allow\n    protocol: TCP\n    source: { selector: role == 'bastion' }\n    destination: { ports: [8443] }") },
    at: 'policies/nobody.yaml:11',
  },
  // A shadowed deny in another policy: k8s-worker (order 100) allows tcp/443 from anywhere first.
  'rule-unreachable': {
    edits: { 'policies/late.yaml': gnp('late-deny', "order: 200\nselector: role == 'k8s-worker'\ningress:\n  - action: Deny\n    protocol: TCP\n    source: { nets: [203.0.113.0/24] }\n    destination: { ports: [443] }") },
    at: 'policies/late.yaml:9',
  },
  'order-tie': {
    edits: {
      'policies/tie.yaml': gnp('a-allow-web', "order: 100\nselector: role == 'k8s-worker'\ningress: [{ action: Allow, protocol: TCP, destination: { ports: [8080] } }]"),
      'policies/tie2.yaml': gnp('z-deny-web', "order: 100\nselector: role == 'k8s-worker'\ningress: [{ action: Deny, protocol: TCP, destination: { ports: [8080] } }]"),
    },
    at: 'policies/tie2.yaml:6',
  },
  'network-policy-in-host-repo': {
    edits: { 'np.yaml': "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: web\n  namespace: default\nspec:\n  selector: role == 'k8s-worker'\n  ingress: [{ action: Allow }]\n" },
    at: 'np.yaml:1',
  },
};

describe('lints: each with file:line, a why and a fix, new in the pull request', () => {
  it('has a case for every lint code', () => {
    expect(Object.keys(CASES).sort()).toEqual([...LINT_CODES].sort());
  });

  for (const [code, { edits, at }] of Object.entries(CASES)) {
    it(code, async () => {
      const p = plan(SEED, change(SEED, edits));
      const mine = p.lints.filter((l) => l.code === code);
      expect(mine.map((l) => `${l.file}:${l.line}`)).toContain(at);
      for (const l of mine) {
        expect(l.new).toBe(true);
        expect(l.why.length).toBeGreaterThan(20);
        expect(l.fix.length).toBeGreaterThan(10);
      }
      await expect(formatText(p)).toMatchFileSnapshot(`./golden/lint-${code}.txt`);
    });
  }

  it('rule-unreachable: a shadowed deny names every rule that decides first, with file:line', () => {
    const p = plan(SEED, change(SEED, CASES['rule-unreachable'].edits));
    expect(p.lints.map((l) => l.message)).toEqual([
      'ingress rule 0 (Deny) can never match: everything it matches is decided before it by policy k8s-worker ingress rule 1 (Allow) (policies/k8s-worker.yaml:14)',
    ]);
  });

  it('rule-unreachable: by the union of earlier rules (none covers it alone), across tiers and by failsafes', () => {
    const first = `apiVersion: projectcalico.org/v3
kind: Tier
metadata: { name: first }
spec: { order: 10, defaultAction: Pass }
---
${gnp('first.allow-low', "tier: first\nselector: has(role)\ningress:\n  - { action: Allow, protocol: TCP, destination: { ports: ['1:500'] } }")}`;
    const p = plan(SEED, change(SEED, {
      'policies/first.yaml': first,
      'policies/k8s-worker.yaml': K8S_WORKER.replace('  egress:\n', "    - action: Allow\n      protocol: TCP\n      destination: { ports: ['501:1000'] }\n    - action: Deny\n      protocol: TCP\n      destination: { ports: ['1:1000'] }\n  egress:\n"),
    }));
    const unreachable = p.lints.filter((l) => l.code === 'rule-unreachable').map((l) => `${l.file}:${l.line}: ${l.message}`);
    expect(unreachable).toEqual([
      // 80 and 443 are allowed in the first tier already.
      'policies/k8s-worker.yaml:14: ingress rule 1 (Allow) can never match: everything it matches is decided before it by policy first.allow-low ingress rule 0 (Allow) (policies/first.yaml:14)',
      // Nothing before it covers 1-1000 alone: the failsafes, the first tier (1-500) and rule 2 (501-1000) together do.
      'policies/k8s-worker.yaml:20: ingress rule 3 (Deny) can never match: everything it matches is decided before it by failsafe tcp/22; failsafe tcp/179; policy first.allow-low ingress rule 0 (Allow) (policies/first.yaml:14); policy k8s-worker ingress rule 2 (Allow) (policies/k8s-worker.yaml:17)',
    ]);
  });

  it('a rule one earlier rule does not cover, but reachable for part of what it matches, is not linted', () => {
    const p = plan(SEED, change(SEED, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('  egress:\n', "    - action: Deny\n      protocol: TCP\n      destination: { ports: ['443:444'] }\n  egress:\n") }));
    expect(p.lints.filter((l) => l.code === 'rule-unreachable')).toEqual([]);
  });

  it('a lint already in the base is reported, but not as new', () => {
    const base = change(SEED, CASES['policy-selects-nothing'].edits);
    const p = plan(base, change(base, { 'hosts.yaml': HOSTS.replace('198.18.0.12', '198.18.0.13') }));
    expect(p.lints.map((l) => [l.code, l.new])).toEqual([['policy-selects-nothing', false]]);
    expect(p.summary.newLints).toBe(0);
  });

  it('no lint on the seed repository', () => {
    expect(plan(SEED, SEED).lints).toEqual([]);
  });
});
