import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/model/load.js';
import { printResources } from '../../src/model/print.js';
import type { Resource } from '../../src/model/schemas.js';

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/);
const port = fc.oneof(fc.integer({ min: 1, max: 65535 }), fc.tuple(fc.integer({ min: 1, max: 30000 }), fc.integer({ min: 0, max: 30000 })).map(([a, d]) => `${a}:${a + d}`), fc.constantFrom('ssh', 'http', 'dns'));
const v4net = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.constantFrom(8, 16, 24, 32)).map(([a, b, p]) => (p === 8 ? `${a}.0.0.0/8` : p === 16 ? `${a}.${b}.0.0/16` : p === 24 ? `10.${a}.${b}.0/24` : `10.${a}.${b}.1/32`));
const selector = fc.constantFrom('all()', "role == 'k8s-worker'", 'has(a) && !has(b)', "env in {'prod', 'dev'}", "a != 'x' || b starts with 'y'");

const entity = fc.record(
  { nets: fc.array(v4net, { maxLength: 2 }), notNets: fc.array(v4net, { maxLength: 1 }), selector, ports: fc.array(port, { maxLength: 3 }), notPorts: fc.array(port, { maxLength: 2 }) },
  { requiredKeys: [] },
);
const rule = fc.record(
  { action: fc.constantFrom('Allow', 'Deny', 'Log', 'Pass'), protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 6, 17), ipVersion: fc.constant(4), source: entity, destination: entity },
  { requiredKeys: ['action', 'protocol'] },
);
const policy = fc.record({
  name,
  spec: fc.record(
    { order: fc.oneof(fc.integer({ min: -100, max: 5000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true })), selector, ingress: fc.array(rule, { maxLength: 3 }), egress: fc.array(rule, { maxLength: 3 }), types: fc.subarray(['Ingress', 'Egress'] as const, { minLength: 1 }) },
    { requiredKeys: [] },
  ),
});
const hostEndpoint = fc.record({
  name,
  node: name,
  ip: fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 254 })).map(([a, b]) => `198.18.${a}.${b}`),
  labels: fc.dictionary(fc.constantFrom('role', 'env', 'example.com/zone'), name, { maxKeys: 3 }),
});

const yamlOf = (docs: object[]) => docs.map((d) => JSON.stringify(d)).join('\n---\n');

const load = (text: string): Resource[] => {
  const r = parsePolicyText(text);
  expect(r.errors).toEqual([]);
  return r.resources.map((l) => l.resource);
};

describe('model properties', () => {
  it('parse(print(x)) = x for normalised resources', () => {
    fc.assert(
      fc.property(fc.uniqueArray(policy, { selector: (p) => p.name, maxLength: 3 }), fc.uniqueArray(hostEndpoint, { selector: (h) => h.name, maxLength: 3 }), (policies, heps) => {
        const docs = [
          ...policies.map((p) => ({ apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: p.name }, spec: p.spec })),
          ...heps.map((h) => ({ apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: h.name, labels: h.labels }, spec: { node: h.node, interfaceName: 'eth0', expectedIPs: [h.ip] } })),
        ];
        const first = load(yamlOf(docs));
        const second = load(printResources(first));
        expect(second).toEqual(first);
        expect(printResources(second)).toBe(printResources(first));
      }),
      { numRuns: 150 },
    );
  });
});
