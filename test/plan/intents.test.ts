import { describe, expect, it } from 'vitest';
import { exitCode } from '../../src/cli/plan.js';
import { formatText } from '../../src/plan/format-text.js';
import { parseRolloutConfig } from '../../src/rollout/rollout-config.js';
import { change, K8S_WORKER, plan, SEED } from './fixtures.js';

const intents = (body: string) => `intents:\n${body.replace(/^/gm, '  ')}\n`;
const SCRAPE = `- name: monitoring-scrapes-nodes
  hosts: "role == 'k8s-worker'"
  direction: ingress
  protocol: tcp
  from: [198.18.7.0/24]
  dstPorts: [9100]
  expect: allow`;
const NO_TELNET = `- name: no-telnet-from-anywhere
  direction: ingress
  protocol: tcp
  dstPorts: [23]
  expect: deny`;
const MONITORING = K8S_WORKER.replace('  egress:\n', '    - action: Allow\n      protocol: TCP\n      source: { nets: [198.18.7.0/24] }\n      destination: { ports: [9100] }\n  egress:\n');

/** Each intent outcome, as a reviewer sees it: proven over the whole box, or a counterexample packet. */
describe('intents in palisade.yaml', () => {
  it('holds: newly, after the pull request adds the rule (all of 198.18.7.0/24 to tcp/9100, on every worker)', async () => {
    const base = change(SEED, { 'palisade.yaml': intents(`${SCRAPE}\n${NO_TELNET}`) });
    const p = plan(base, change(base, { 'policies/k8s-worker.yaml': MONITORING }));
    expect(p.intents.map((r) => [r.intent, r.host, r.holds, r.heldBefore])).toEqual([
      ['monitoring-scrapes-nodes', 'node-a', true, false],
      ['monitoring-scrapes-nodes', 'node-b', true, false],
      ['no-telnet-from-anywhere', 'node-a', true, true],
      ['no-telnet-from-anywhere', 'node-b', true, true],
    ]);
    expect(p.outcome).toBe('fine');
    expect(p.intents[0]!.at).toEqual({ file: 'palisade.yaml', line: 2, col: 5 });
    await expect(formatText(p)).toMatchFileSnapshot('./golden/intent-holds.txt');
  });

  it('violated: part of the box is denied, exit 2 naming a packet of it (not fixable by --allow-danger)', async () => {
    // The rule allows only half of the monitoring network: the proof finds the other half.
    const half = MONITORING.replace('[198.18.7.0/24]', '[198.18.7.0/25]');
    const base = change(SEED, { 'palisade.yaml': intents(SCRAPE) });
    const p = plan(base, change(base, { 'policies/k8s-worker.yaml': half }));
    expect(p.outcome).toBe('violated');
    expect(exitCode(p, true)).toBe(2);
    const r = p.intents[0]!;
    expect(r).toMatchObject({ intent: 'monitoring-scrapes-nodes', host: 'node-a', holds: false, heldBefore: false });
    expect(r.counterexample).toEqual({
      packet: { iface: 'eth0', direction: 'ingress', proto: 6, src: '198.18.7.129', dst: '198.18.0.11', sport: 40000, dport: 9100 },
      verdict: 'deny',
      reason: 'deny (policy k8s-worker, end of tier default)',
      at: { file: 'policies/k8s-worker.yaml', line: 1, col: 1 },
    });
    await expect(formatText(p)).toMatchFileSnapshot('./golden/intent-violated.txt');
  });

  it('violated by the change: a deny intent that held before breaks when a rule opens the port', () => {
    const base = change(SEED, { 'palisade.yaml': intents(NO_TELNET) });
    const p = plan(base, change(base, { 'policies/k8s-worker.yaml': K8S_WORKER.replace('ports: [80, 443]', 'ports: [80, 443, "20:30"]') }));
    expect(p.intents.map((r) => [r.host, r.holds, r.heldBefore, r.counterexample?.reason])).toEqual([
      ['node-a', false, true, 'allow (policy k8s-worker ingress rule 1 (Allow))'],
      ['node-b', false, true, 'allow (policy k8s-worker ingress rule 1 (Allow))'],
    ]);
  });

  it('an intent that selects no host endpoint is a warning, not a proof', () => {
    const base = change(SEED, { 'palisade.yaml': intents(SCRAPE.replace("role == 'k8s-worker'", "role == 'db'")) });
    const p = plan(base, base);
    expect(p.intents).toEqual([]);
    expect(p.warnings.map((w) => w.message)).toEqual(['intent monitoring-scrapes-nodes selects no host endpoint: nothing to prove']);
  });

  it('validate checks the syntax: file, line, field and reason', () => {
    const bad = (body: string) => parseRolloutConfig(intents(body)).errors.map((e) => `${e.line}:${e.col} ${e.field}: ${e.message}`);
    expect(bad('- { name: x, direction: ingress, dstPorts: [22], expect: allow }')).toEqual(['2:46 intents.0.dstPorts: ports need protocol tcp, udp or sctp']);
    expect(bad('- { name: x, direction: in, expect: allow }')).toEqual([expect.stringMatching(/^2:\d+ intents\.0\.direction: /)]);
    expect(bad('- { name: x, direction: ingress, from: [10.0.0.0/33], expect: allow }')).toEqual([expect.stringMatching(/^2:\d+ intents\.0\.from\.0: must be an IPv4\/IPv6 address or CIDR/)]);
    expect(bad("- { name: x, hosts: \"role ==\", direction: ingress, expect: deny }")).toEqual([expect.stringMatching(/^2:\d+ intents\.0\.hosts: /)]);
    expect(bad('- { name: x, direction: ingress, expect: deny }\n- { name: x, direction: egress, expect: deny }')).toEqual([expect.stringMatching(/intents\.1\.name: intent name x is used twice/)]);
    expect(bad('- { name: x, direction: ingress, protocol: tcp, dstPorts: ["22:80"], expect: allow, srcPorts: ["90:80"] }')).toEqual([expect.stringMatching(/intents\.0\.srcPorts\.0: /)]);
  });
});
