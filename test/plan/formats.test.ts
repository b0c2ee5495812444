import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { formatGithub } from '../../src/plan/format-github.js';
import { COMMENT_MARKER, formatMarkdown, GITHUB_COMMENT_LIMIT } from '../../src/plan/format-markdown.js';
import { planJsonSchema, PlanReport } from '../../src/plan/plan-report.js';
import { change, felix, plan, SEED } from './fixtures.js';

const emptied = () => plan(SEED, change(SEED, { 'felix.yaml': felix('failsafeInboundHostPorts: []') }));

function fleet(n: number): Record<string, string> {
  const heps = Array.from({ length: n }, (_, i) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: node-${i}-eth0
  labels: { role: k8s-worker }
spec:
  node: node-${i}
  interfaceName: eth0
  expectedIPs: [10.1.${Math.floor(i / 200)}.${(i % 200) + 1}]
`);
  return { ...SEED, 'hosts.yaml': heps.join('---\n') };
}

describe('markdown', () => {
  it('summary table first, details folded, the marker for updating one comment', async () => {
    const md = formatMarkdown(emptied());
    expect(md.startsWith(`${COMMENT_MARKER}\n## Palisade plan: \`main\` → \`pr\``)).toBe(true);
    expect(md.indexOf('| hosts affected |')).toBeLessThan(md.indexOf('<details>'));
    expect(md).toContain('| 2 | 8 | 0 | 8 | 2 | 0 | 1 (1) | 1 |');
    expect(md).toContain('### ⛔ Dangers (2)');
    expect(md).toContain('<summary>ruleset diff</summary>');
    await expect(md).toMatchFileSnapshot('./golden/markdown-failsafe-emptied.md');
  });

  it('a large change stays under GitHub’s comment limit and says where the full plan is', () => {
    const big = fleet(250);
    const p = plan(big, change(big, { 'felix.yaml': felix('failsafeInboundHostPorts: []\nfailsafeOutboundHostPorts: []') }));
    expect(p.summary.hostsAffected).toBe(250);
    expect(JSON.stringify(p).length).toBeGreaterThan(10 * GITHUB_COMMENT_LIMIT);
    const md = formatMarkdown(p, { fullPlan: 'the `palisade-plan` artifact' });
    expect(md.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT);
    expect(md).toContain("> Shortened to fit GitHub's comment limit. The full plan is in the `palisade-plan` artifact.");
    expect(md).toContain(`| 250 | ${p.summary.flowsChanged} | 0 | ${p.summary.connectionsClosed} | ${p.summary.dangers} |`);
    expect(md).toContain('more (see the full plan)');
  });

  it('a tiny limit still yields the summary, cut at a line', () => {
    const md = formatMarkdown(emptied(), { limit: 700 });
    expect(md.length).toBeLessThanOrEqual(700);
    expect(md).toContain('| hosts affected |');
    expect(md.trimEnd().endsWith(COMMENT_MARKER)).toBe(true);
  });
});

describe('github annotations', () => {
  it('dangers as errors on the failsafe list, lints as warnings, other changes as notices', async () => {
    const out = formatGithub(emptied());
    expect(out).toContain('::error file=felix.yaml,line=6,col=3,title=DANGER%3A check ssh-from-management::node-a, eth0 ingress tcp/22 from 198.18.100.0/24 to 198.18.0.11/32');
    expect(out).toContain('::warning file=felix.yaml,line=6,col=3,title=palisade lint failsafe-emptied-without-ssh::');
    expect(out).toMatch(/^::notice file=felix.yaml,line=6,col=3,title=flows closed::node-a, eth0 ingress tcp\/22,179,2379-2380,5473,6443,6666-6667 from 0.0.0.0\/0/m);
    expect(out.trimEnd().split('\n').at(-1)).toBe('palisade plan: dangerous: 1 resource changed, 2 hosts affected, 8 flow boxes changed, 0 opened, 8 closed, 2 dangers, 0 intents violated, 1 lint (1 new)');
    await expect(out).toMatchFileSnapshot('./golden/github-failsafe-emptied.txt');
  });

  it('validation errors first, as errors at file:line:col, and the plan stops there', () => {
    const p = plan(SEED, change(SEED, { 'bad.yaml': 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: { name: bad }\nspec:\n  ingress: [{ action: allow }]\n' }));
    expect(p.outcome).toBe('invalid');
    expect(p.hosts).toEqual([]);
    expect(formatGithub(p).split('\n')[0]).toMatch(/^::error file=bad.yaml,line=5,col=\d+,title=GlobalNetworkPolicy\/bad::spec.ingress\[0\].action: invalid action "allow"/);
  });
});

describe('json', () => {
  it('the plan validates against its schema, and docs/plan.schema.json is that schema', async () => {
    const p = emptied();
    expect(PlanReport.parse(JSON.parse(JSON.stringify(p)))).toEqual(p);
    const documented = JSON.parse(await readFile(new URL('../../docs/plan.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(documented).toEqual(planJsonSchema());
  });
});
