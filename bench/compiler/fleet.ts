/**
 * The benchmark fleet: 100 hosts × 10 host endpoints, 1,000 policies, 50 network sets of 20 nets.
 * Shared by the compiler and dataplane benchmarks so both measure the same desired state.
 */
import type { HostFacts } from '../../src/compiler/index.js';
import { stateOf } from '../../test/support/policy-fixtures.js';

export const HOSTS = 100;
export const HEPS_PER_HOST = 10;
export const POLICIES = 1000;

/** `changedPort` edits policy p0 only: the incremental benchmark's one-policy change. */
export function fleet(changedPort = 22) {
  const docs: Record<string, unknown>[] = [];
  const hosts: HostFacts[] = [];
  for (let h = 0; h < HOSTS; h++) {
    const interfaces: HostFacts['interfaces'] = [];
    for (let e = 0; e < HEPS_PER_HOST; e++) {
      const ip = `198.18.${h}.${e + 1}`;
      interfaces.push({ name: `eth${e}`, addresses: [`${ip}/24`] });
      docs.push({ kind: 'HostEndpoint', metadata: { name: `h${h}-eth${e}`, labels: { host: `h${h}`, role: `r${e}`, zone: `z${h % 10}` } }, spec: { node: `n${h}`, interfaceName: `eth${e}`, expectedIPs: [ip] } });
    }
    hosts.push({ node: `n${h}`, interfaces });
  }
  for (let s = 0; s < 50; s++) docs.push({ kind: 'GlobalNetworkSet', metadata: { name: `set${s}`, labels: { grp: `g${s % 10}` } }, spec: { nets: Array.from({ length: 20 }, (_, i) => `10.${s}.${i}.0/24`) } });
  for (let p = 0; p < POLICIES; p++) {
    docs.push({
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `p${p}` },
      spec: {
        order: p % 50,
        selector: `role == 'r${p % HEPS_PER_HOST}' && zone == 'z${p % 10}'`,
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: `grp == 'g${p % 10}'` }, destination: { ports: [p === 0 ? changedPort : 22, '8000:8100'] } },
          { action: 'Deny', protocol: 'UDP', source: { nets: ['10.0.0.0/8'] } },
        ],
        egress: [{ action: 'Allow', destination: { selector: `zone == 'z${(p + 1) % 10}'` } }],
      },
    });
  }
  return { state: stateOf(...docs), hosts };
}
