import { readRepositoryDirectory } from '../../src/repository/repository.js';
import { describe, expect, it } from 'vitest';
import { formatModelError } from '../../src/model/errors.js';
import { loadPolicyFiles } from '../../src/model/load.js';

const gnp = (spec: string, name = 'p') => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ${name}
spec:
${spec}`;

describe('loadPolicyFiles input forms', () => {
  it('reads multi-document YAML, kind: List and top-level sequences', () => {
    const multi = `${gnp('  selector: all()', 'a')}\n---\n${gnp('  selector: all()', 'b')}\n`;
    const list = `apiVersion: v1
kind: List
items:
  - apiVersion: projectcalico.org/v3
    kind: GlobalNetworkSet
    metadata: {name: s1}
    spec: {nets: [10.0.0.0/8]}
`;
    const seq = `- apiVersion: projectcalico.org/v3
  kind: GlobalNetworkSet
  metadata: {name: s2}
  spec: {nets: [10.1.0.0/16]}
`;
    const json = JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 't' }, spec: { order: 10 } });
    const r = loadPolicyFiles([
      { path: 'multi.yaml', content: multi },
      { path: 'list.yaml', content: list },
      { path: 'seq.yaml', content: new TextEncoder().encode(seq) },
      { path: 't.json', content: json },
    ]);
    expect(r.errors).toEqual([]);
    expect(r.resources.map((l) => `${l.resource.kind}/${l.resource.metadata.name}@${l.source.file}:${l.source.line}`)).toEqual([
      'GlobalNetworkPolicy/a@multi.yaml:1',
      'GlobalNetworkPolicy/b@multi.yaml:8',
      'GlobalNetworkSet/s1@list.yaml:4',
      'GlobalNetworkSet/s2@seq.yaml:1',
      'Tier/t@t.json:1',
    ]);
  });

  it('points an unknown field at its own line, with a suggestion', () => {
    const r = loadPolicyFiles([{ path: 'p.yaml', content: gnp('  selector: all()\n  ingres:\n    - action: Allow\n') }]);
    expect(r.resources).toEqual([]);
    expect(r.errors.map(formatModelError)).toEqual(['p.yaml:7:3: GlobalNetworkPolicy/p: spec.ingres: unknown field "ingres" (did you mean "ingress"?)']);
    expect(r.errors[0]!.code).toBe('UNKNOWN_FIELD');
  });

  it('applies Calico defaults', () => {
    const r = loadPolicyFiles([{ path: 'p.yaml', content: gnp('  egress:\n    - action: Allow\n') }]);
    const policy = r.resources[0]!.resource;
    expect(policy.kind).toBe('GlobalNetworkPolicy');
    if (policy.kind !== 'GlobalNetworkPolicy') return;
    expect(policy.spec).toMatchObject({ tier: 'default', order: null, selector: 'all()', types: ['Egress'], ingress: [], doNotTrack: false });
    expect(policy.spec.egress[0]!.destination).toEqual({ nets: [], notNets: [], ports: [], notPorts: [] });
  });

  it('reports every problem in the tree at once', () => {
    const r = loadPolicyFiles([
      { path: 'a.yaml', content: gnp('  ingress:\n    - action: allow\n') },
      { path: 'b.yaml', content: 'a: [\n' },
    ]);
    expect(r.errors.map((e) => `${e.file}:${e.line}:${e.code}`)).toEqual(['a.yaml:7:INVALID_FIELD', 'b.yaml:2:YAML_SYNTAX']);
  });
});

describe('reading a policy directory', () => {
  it('validates the example repository clean', async () => {
    const r = await readRepositoryDirectory('policies-example');
    expect(r.rollout?.waves.map((w) => w.name)).toEqual(['canary', 'half', 'rest']);
    expect(r.errors.map(formatModelError)).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.resources.map((l) => `${l.resource.kind}/${l.resource.metadata.name}`).sort()).toEqual([
      'FelixConfiguration/default',
      'GlobalNetworkPolicy/failsafe-management',
      'GlobalNetworkPolicy/k8s-worker',
      'GlobalNetworkSet/management',
      'HostEndpoint/node-a-eth0',
      'HostEndpoint/node-b-eth0',
      'HostEndpoint/node-c-eth0',
    ]);
  });
});
