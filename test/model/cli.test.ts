import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runConvert } from '../../src/cli/convert.js';
import { main } from '../../src/cli/main.js';
import { runValidate } from '../../src/cli/validate.js';
import { parsePolicyText } from '../../src/model/load.js';

const capture = () => {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'palisade-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const BAD = `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: p
spec:
  ingres:
    - action: Allow
`;

describe('palisade validate', () => {
  it('exits 0 on the example repository', async () => {
    const { out, io } = capture();
    expect(await runValidate(['policies-example'], io)).toBe(0);
    expect(out.stdout).toBe('');
    expect(out.stderr).toContain('7 valid resources, 0 errors, 0 warnings');
  });

  it('prints file:line:col: Kind/name: field: reason and exits 1', async () => {
    writeFileSync(join(dir, 'p.yaml'), BAD);
    const { out, io } = capture();
    expect(await runValidate([dir], io)).toBe(1);
    expect(out.stdout).toBe(`${join(dir, 'p.yaml')}:6:3: GlobalNetworkPolicy/p: spec.ingres: unknown field "ingres" (did you mean "ingress"?)\n`);
  });

  it('--format json gives every error as data', async () => {
    writeFileSync(join(dir, 'p.yaml'), BAD);
    const { out, io } = capture();
    expect(await runValidate([dir, '--format', 'json'], io)).toBe(1);
    const doc = JSON.parse(out.stdout) as { valid: boolean; errors: object[] };
    expect(doc.valid).toBe(false);
    expect(doc.errors).toEqual([{ code: 'UNKNOWN_FIELD', file: join(dir, 'p.yaml'), line: 6, col: 3, kind: 'GlobalNetworkPolicy', name: 'p', field: 'spec.ingres', message: 'unknown field "ingres" (did you mean "ingress"?)' }]);
  });

  it('--format github gives workflow annotations with escaping', async () => {
    writeFileSync(join(dir, 'p.yaml'), BAD);
    const { out, io } = capture();
    expect(await runValidate([`--format=github`, dir], io)).toBe(1);
    expect(out.stdout).toBe(`::error file=${join(dir, 'p.yaml')},line=6,col=3,title=GlobalNetworkPolicy/p::spec.ingres: unknown field "ingres" (did you mean "ingress"?)\n`);
  });

  it('rejects bad usage with exit 2', async () => {
    const { out, io } = capture();
    expect(await main(['validate', '--format', 'xml'], io)).toBe(2);
    expect(out.stderr).toBe("palisade validate: --format must be text, json or github, got 'xml' (see 'palisade validate --help')\n");
    expect(await runValidate([join(dir, 'missing')], io)).toBe(2);
  });

  it('--skip-invalid turns invalid resources into warnings and exits 0', async () => {
    writeFileSync(join(dir, 'p.yaml'), BAD);
    const { out, io } = capture();
    expect(await runValidate([dir, '--skip-invalid'], io)).toBe(0);
    expect(out.stdout).toContain('warning: Validation failed; treating as missing: unknown field "ingres"');
  });
});

describe('palisade convert v1', () => {
  it('maps the v1 model to v3 YAML that validates', async () => {
    const file = join(dir, 'v1.json');
    writeFileSync(
      file,
      JSON.stringify([
        { key: '/calico/v1/policy/tier/default/policy/allow-ssh', value: { order: 10, selector: "calico/k8s_ns == 'x'", inbound_rules: [{ action: 'allow', protocol: 'tcp', src_net: '198.18.0.5/24', dst_ports: [22] }, { action: 'next-tier', '!src_tag': 'bad' }], outbound_rules: [{ action: '' }], untracked: true } },
        { key: '/calico/v1/host/node-a/endpoint/eth0', value: { name: 'eth0', expected_ipv4_addrs: ['198.18.0.11'], expected_ipv6_addrs: ['fd00::11'], profile_ids: ['base'], labels: { role: 'worker' }, ports: [{ name: 'ssh', protocol: 'tcp', port: 22 }] } },
        { key: '/calico/v1/policy/profile/base/rules', value: JSON.stringify({ inbound_rules: [], outbound_rules: [{ action: 'allow' }] }) },
        { key: '/calico/v1/policy/profile/base/tags', value: ['web'] },
        { key: '/calico/v1/netset/mgmt', value: { nets: ['198.18.0.0/24'] } },
        { key: '/calico/v1/policy/tier/sec/metadata', value: { order: 50 } },
        { key: '/calico/v1/config/FailsafeInboundHostPorts', value: 'tcp:22,udp:68,tcp:[::/0]:179,10.0.0.0/8:2379' },
        { key: '/calico/v1/host/node-a/config/FailsafeOutboundHostPorts', value: 'none' },
      ]),
    );
    const { out, io } = capture();
    expect(await runConvert(['v1', file], io)).toBe(0);
    const { resources, errors } = parsePolicyText(out.stdout);
    expect(errors).toEqual([]);
    const byKey = Object.fromEntries(resources.map((l) => [`${l.resource.kind}/${l.resource.metadata.name}`, l.resource.spec as Record<string, unknown>]));
    expect(Object.keys(byKey)).toEqual(['Tier/sec', 'FelixConfiguration/default', 'FelixConfiguration/node.node-a', 'GlobalNetworkSet/mgmt', 'Profile/base', 'HostEndpoint/node-a.eth0', 'GlobalNetworkPolicy/default.allow-ssh']);
    expect(byKey['GlobalNetworkPolicy/default.allow-ssh']).toMatchObject({
      order: 10,
      selector: 'projectcalico.org/namespace == "x"',
      types: ['Ingress', 'Egress'],
      doNotTrack: true,
      applyOnForward: true,
      ingress: [
        { action: 'Allow', protocol: 'TCP', source: { nets: ['198.18.0.0/24'] }, destination: { ports: [{ kind: 'range', min: 22, max: 22 }] } },
        { action: 'Pass', source: { notSelector: "bad == ''" } },
      ],
      egress: [{ action: 'Allow' }],
    });
    expect(byKey['HostEndpoint/node-a.eth0']).toMatchObject({ node: 'node-a', interfaceName: 'eth0', expectedIPs: ['198.18.0.11', 'fd00::11'], profiles: ['base'], ports: [{ name: 'ssh', protocol: 'TCP', port: 22 }] });
    expect(byKey['Profile/base']).toMatchObject({ egress: [{ action: 'Allow' }], labelsToApply: { web: '' } });
    expect(byKey['FelixConfiguration/default']).toEqual({
      failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22 }, { protocol: 'UDP', port: 68 }, { protocol: 'TCP', port: 179, net: '::/0' }, { protocol: 'TCP', port: 2379, net: '10.0.0.0/8' }],
    });
    expect(byKey['FelixConfiguration/node.node-a']).toEqual({ failsafeOutboundHostPorts: [] });
  });

  it('reads etcdctl -w json output', async () => {
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const file = join(dir, 'etcd.json');
    writeFileSync(file, JSON.stringify({ header: {}, kvs: [{ key: b64('/calico/v1/netset/a'), value: b64(JSON.stringify({ nets: ['10.0.0.0/8'] })) }] }));
    const { out, io } = capture();
    expect(await runConvert(['v1', file], io)).toBe(0);
    expect(out.stdout).toContain('kind: GlobalNetworkSet');
  });

  it('sanitises names as Calico does, with a hash suffix when changed', async () => {
    const file = join(dir, 'v1.json');
    writeFileSync(file, JSON.stringify({ '/calico/v1/policy/tier/default/policy/Allow_SSH': { selector: '' } }));
    const { out, io } = capture();
    expect(await runConvert(['v1', file], io)).toBe(0);
    expect(out.stdout).toMatch(/name: default\.allow-ssh-[0-9a-f]{8}\n/);
  });

  it('fails on usage and on unconvertible input', async () => {
    const { out, io } = capture();
    expect(await main(['convert', 'v2', 'x'], io)).toBe(2);
    expect(out.stderr).toContain("palisade convert: unknown subcommand 'v2'");
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ '/calico/v1/config/FailsafeInboundHostPorts': 'sctp:22' }));
    expect(await runConvert(['v1', file], io)).toBe(1);
    expect(out.stderr).toContain("invalid failsafe protocol in 'sctp:22'");
  });
});
