import { describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { simulate, type Packet, type Verdict } from '../../src/simulator/index.js';
import { stateOf } from '../support/policy-fixtures.js';

/**
 * Tables derived from Felix's functional tests for host endpoints (projectcalico/calico v3.29.0,
 * felix/fv/hostendpoints_test.go and felix/fv/pre_dnat_test.go), replayed on the simulator — the
 * same evaluation the differential test pins to the kernel. Felix's two hosts become two
 * programs: a host-to-host flow needs felix[0]'s egress and felix[1]'s ingress to allow it.
 * Each scenario runs with a named (`eth0`) and an all-interfaces (`*`) host endpoint, as the FV
 * suite does. Workloads are interfaces `cali…` (not policed by host endpoints).
 */
const F = [
  { node: 'felix-0', ip: '198.18.30.10' },
  { node: 'felix-1', ip: '198.18.30.11' },
];
const facts = (i: number) => ({ node: F[i]!.node, interfaces: [{ name: 'eth0', addresses: [`${F[i]!.ip}/24`] }, { name: 'cali1', addresses: [] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] });
const heps = (iface: 'eth0' | '*', profiles: string[] = []) =>
  F.map((f) => ({ kind: 'HostEndpoint', metadata: { name: `hep-${f.node}`, labels: { hostname: f.node, 'host-endpoint': 'true' } }, spec: { node: f.node, interfaceName: iface, expectedIPs: [f.ip], profiles } }));
const policy = (name: string, spec: Record<string, unknown>) => ({ kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
// AddDefaultAllow: a profile allowing everything (felix/fv/infrastructure).
const DEFAULT_ALLOW = { kind: 'Profile', metadata: { name: 'default-allow' }, spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] } };
// The FV hosts are reached on ports outside the failsafe lists.
const PORT = 8055;

function hostToHost(docs: Record<string, unknown>[], from: number, to: number, proto: string | number = 'tcp'): boolean {
  const [a, b] = [compileHost(stateOf(...docs), facts(from)), compileHost(stateOf(...docs), facts(to))];
  const ports = typeof proto === 'number' ? {} : { sport: 40000, dport: PORT };
  const out: Packet = { iface: 'eth0', direction: 'egress', proto, src: F[from]!.ip, dst: F[to]!.ip, ...ports };
  const egress = simulate(a, out).verdict;
  const ingress = simulate(b, { ...out, direction: 'ingress' }).verdict;
  return egress !== 'deny' && ingress !== 'deny';
}

const hostToOwnPod = (docs: Record<string, unknown>[]): Verdict =>
  simulate(compileHost(stateOf(...docs), facts(0)), { iface: 'cali1', direction: 'egress', proto: 'tcp', src: F[0]!.ip, dst: '198.18.31.5', sport: 40000, dport: PORT }).verdict;

describe.each(['eth0', '*'] as const)('felix/fv/hostendpoints_test.go with interfaceName %s', (iface) => {
  it(':231 no policies and no profiles: host-to-host denied both ways, raw IP (253) too; host to own pod is not host-endpoint policy', () => {
    const docs = heps(iface);
    expect([hostToHost(docs, 0, 1), hostToHost(docs, 1, 0), hostToHost(docs, 0, 1, 253), hostToHost(docs, 1, 0, 253)]).toEqual([false, false, false, false]);
    expect(hostToOwnPod(docs)).toBe('no-policy');
  });

  it(':307 security tier: egress allowed from felix[0] alone is not enough; with ingress allowed on felix[1] one way works; then a Deny closes it', () => {
    const tier = { kind: 'Tier', metadata: { name: 'security' }, spec: { order: 10 } };
    const egress = policy('security.f0-egress', { tier: 'security', selector: "hostname == 'felix-0'", egress: [{ action: 'Allow' }] });
    const step1 = [...heps(iface), tier, egress];
    expect([hostToHost(step1, 0, 1), hostToHost(step1, 1, 0)]).toEqual([false, false]);
    const ingress = (action: string) => policy('security.f1-ingress', { tier: 'security', selector: "hostname == 'felix-1'", ingress: [{ action }] });
    const step2 = [...step1, ingress('Allow')];
    expect([hostToHost(step2, 0, 1), hostToHost(step2, 1, 0), hostToHost(step2, 0, 1, 253), hostToHost(step2, 1, 0, 253)]).toEqual([true, false, true, false]);
    expect(hostToHost([...step1, ingress('Deny')], 0, 1)).toBe(false);
  });

  it(':391 raw IP with the right protocol only: 253 allowed once both sides allow it, 254 stays blocked', () => {
    const p253 = (name: string, dir: 'ingress' | 'egress', host: string) => policy(name, { selector: `hostname == '${host}'`, [dir]: [{ action: 'Allow', protocol: 253 }] });
    const one = [...heps(iface), p253('f0-egress', 'egress', 'felix-0')];
    expect([hostToHost(one, 0, 1, 253), hostToHost(one, 1, 0, 253)]).toEqual([false, false]);
    const both = [...one, p253('f1-ingress', 'ingress', 'felix-1')];
    expect([hostToHost(both, 0, 1, 253), hostToHost(both, 0, 1, 254), hostToHost(both, 0, 1)]).toEqual([true, false, false]);
  });

  it(':435 an apply-on-forward deny-all does not deny host-to-own-pod traffic', () => {
    const docs = [...heps(iface), policy('aof-deny', { selector: 'has(host-endpoint)', applyOnForward: true, types: ['Ingress', 'Egress'], ingress: [{ action: 'Deny' }], egress: [{ action: 'Deny' }] })];
    expect([hostToHost(docs, 0, 1), hostToHost(docs, 1, 0)]).toEqual([false, false]);
    expect(hostToOwnPod(docs)).toBe('no-policy');
  });

  it(':453 an allow-all profile allows all traffic; :487 an egress Deny on felix[0] closes felix[0] → felix[1] only; :509 an ingress Deny on felix[1] too', () => {
    const docs = [...heps(iface, ['default-allow']), DEFAULT_ALLOW];
    expect([hostToHost(docs, 0, 1), hostToHost(docs, 1, 0), hostToHost(docs, 0, 1, 253)]).toEqual([true, true, true]);
    const egressDeny = [...docs, policy('f0-egress', { selector: "hostname == 'felix-0'", egress: [{ action: 'Deny' }] })];
    expect([hostToHost(egressDeny, 0, 1), hostToHost(egressDeny, 1, 0)]).toEqual([false, true]);
    const ingressDeny = [...docs, policy('f1-ingress', { selector: "hostname == 'felix-1'", ingress: [{ action: 'Deny' }] })];
    expect([hostToHost(ingressDeny, 0, 1), hostToHost(ingressDeny, 1, 0)]).toEqual([false, true]);
    // "Forwarded traffic to containers.Felix[1] is allowed": the ingress Deny is not applyOnForward.
    const forwarded = simulate(compileHost(stateOf(...ingressDeny), facts(1)), { iface: 'eth0', direction: 'ingress', forwardTo: 'cali1', proto: 'tcp', src: F[0]!.ip, dst: '198.18.31.6', sport: 40000, dport: PORT });
    expect(forwarded.verdict).not.toBe('deny');
  });
});

describe('felix/fv/pre_dnat_test.go: node ports, pre-DNAT policy on the host endpoint (ports as they were before DNAT)', () => {
  const EXTERNAL = '198.18.32.99';
  const denyAll = policy('deny-ingress', { order: 20, preDNAT: true, applyOnForward: true, selector: 'has(host-endpoint)', ingress: [{ action: 'Deny' }] });
  const pinhole = (port: number) => policy(`allow-ingress-${port}`, { order: 10, preDNAT: true, applyOnForward: true, selector: 'has(host-endpoint)', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [port] } }] });
  const hep = (iface: string) => ({ kind: 'HostEndpoint', metadata: { name: 'felix-eth0', labels: { 'host-endpoint': 'true' } }, spec: { node: 'felix-0', interfaceName: iface } });
  /** An external client's connection to a node port, DNATed to a local workload (forwarded to cali1). */
  const nodePort = (docs: Record<string, unknown>[], port: number) =>
    simulate(compileHost(stateOf(...docs), facts(0)), { iface: 'eth0', direction: 'ingress', forwardTo: 'cali1', proto: 'tcp', src: EXTERNAL, dst: F[0]!.ip, sport: 40000, dport: port }).verdict;
  /** A workload's connection to another workload's node port (never arrives on eth0). */
  const fromPod = (docs: Record<string, unknown>[], port: number) =>
    simulate(compileHost(stateOf(...docs), facts(0)), { iface: 'cali1', direction: 'ingress', forwardTo: 'cali1', proto: 'tcp', src: '198.18.31.7', dst: F[0]!.ip, sport: 40000, dport: port }).verdict;

  it(':164 with a deny-all pre-DNAT policy on eth0 the external client cannot connect; workloads still can', () => {
    const docs = [hep('eth0'), denyAll];
    expect([nodePort(docs, 32010), nodePort(docs, 32011)]).toEqual(['deny', 'deny']);
    expect([fromPod(docs, 32010), fromPod(docs, 32011)]).toEqual(['no-policy', 'no-policy']);
  });

  it(':195 a pinhole to 32010 lets the external client reach 32010, not 32011', () => {
    const docs = [hep('eth0'), denyAll, pinhole(32010)];
    expect([nodePort(docs, 32010), nodePort(docs, 32011)]).toEqual(['allow', 'deny']);
  });

  it(':227 a pinhole to 8055 (the port after DNAT) opens nothing: pre-DNAT policy sees the node port', () => {
    const docs = [hep('eth0'), denyAll, pinhole(8055)];
    expect([nodePort(docs, 32010), nodePort(docs, 32011)]).toEqual(['deny', 'deny']);
  });

  it(':249 with an all-interfaces host endpoint no one connects via node ports, workloads included: its pre-DNAT policy sees every interface', () => {
    const docs = [hep('*'), denyAll];
    expect([nodePort(docs, 32010), nodePort(docs, 32011), fromPod(docs, 32010), fromPod(docs, 32011)]).toEqual(['deny', 'deny', 'deny', 'deny']);
    // :280 a pinhole via 32010 opens it for both.
    const pinned = [hep('*'), denyAll, pinhole(32010)];
    expect([nodePort(pinned, 32010), nodePort(pinned, 32011), fromPod(pinned, 32010), fromPod(pinned, 32011)]).toEqual(['allow', 'deny', 'allow', 'deny']);
  });
});
