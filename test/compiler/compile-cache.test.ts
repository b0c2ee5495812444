import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompileCache } from '../../src/compiler/cache.js';
import { compileHostIn } from '../../src/compiler/compile.js';
import { CompileContext } from '../../src/compiler/context.js';
import { compileHost, type HostFacts } from '../../src/compiler/index.js';
import { stateOf } from '../support/policy-fixtures.js';

const N = 10;
const hosts: HostFacts[] = Array.from({ length: N }, (_, i) => ({ node: `n${i}`, interfaces: [{ name: 'eth0', addresses: [`198.18.1.${i + 1}/24`] }] }));

/** Host i has HEP labelled `host: hi`; policy i selects it and allows from set `grp: gi`. */
function fleet(edit: { policyPort?: number; setNet?: string; hepLabel?: string; policySelector?: string } = {}) {
  const docs: Record<string, unknown>[] = [];
  for (let i = 0; i < N; i++) {
    docs.push({ kind: 'HostEndpoint', metadata: { name: `hep${i}`, labels: { host: `h${i}`, ...(i === 7 && edit.hepLabel ? { grp: edit.hepLabel } : {}) } }, spec: { node: `n${i}`, interfaceName: 'eth0', expectedIPs: [`198.18.1.${i + 1}`] } });
    docs.push({ kind: 'GlobalNetworkSet', metadata: { name: `set${i}`, labels: { grp: `g${i}` } }, spec: { nets: [i === 4 && edit.setNet ? edit.setNet : `198.18.${100 + i}.0/24`] } });
    const port = i === 2 && edit.policyPort ? edit.policyPort : 22;
    const selector = i === 5 && edit.policySelector ? edit.policySelector : `host == 'h${i}'`;
    docs.push({ kind: 'GlobalNetworkPolicy', metadata: { name: `p${i}` }, spec: { selector, ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: `grp == 'g${i}'` }, destination: { ports: [port] } }] } });
  }
  return stateOf(...docs);
}

describe('CompileCache carried across revisions', () => {
  it('any sequence of edits compiled the reconciler’s way (one cache, rotated per revision) equals a fresh compile of each state', () => {
    const edit = fc.record(
      {
        policyPort: fc.constantFrom(22, 2222, 8080),
        setNet: fc.constantFrom('198.18.200.0/24', '198.18.104.0/24', '198.18.1.3/32'),
        hepLabel: fc.constantFrom('g1', 'g3', 'g9'),
        policySelector: fc.constantFrom("host == 'h5'", "host in {'h5', 'h6'}", 'all()', "grp == 'g3'"),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
        const cache = new CompileCache();
        for (const e of [{}, ...edits]) {
          const next = fleet(e);
          cache.rotate();
          const context = new CompileContext(next, cache);
          for (const h of hosts) expect(compileHostIn(context, h)).toEqual(compileHost(next, h));
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a tier added in the next revision reaches every host program despite the warm cache', () => {
    const cache = new CompileCache();
    for (const state of [fleet(), stateOf({ kind: 'Tier', metadata: { name: 'extra' }, spec: { order: 5 } })]) {
      cache.rotate();
      const context = new CompileContext(state, cache);
      for (const h of hosts) expect(compileHostIn(context, h)).toEqual(compileHost(state, h));
    }
  });
});
