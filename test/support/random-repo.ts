import fc from 'fast-check';
import type { HostFacts } from '../../src/compiler/ir.js';
import { Resource } from '../../src/model/schemas.js';
import type { Packet } from '../../src/simulator/index.js';

/**
 * Random policy repositories for property tests of the header-space analysis: host endpoints
 * (named, by expectedIPs, `*`), tiers with Deny or Pass, doNotTrack, preDNAT and applyOnForward
 * policy, profiles, named ports, selectors, nets and notNets in IPv4 and IPv6, ICMP, failsafes
 * with nets. A revision pair is a repository and a mutation of it. Packets are drawn from the
 * same small pools of addresses and ports the rules use (plus their neighbours), so they hit
 * the boundaries.
 */

export const NODE = 'server';
export const FACTS: HostFacts = {
  node: NODE,
  interfaces: [
    { name: 'eth0', addresses: ['198.18.21.2/24', 'fd00:21::2/64'] },
    { name: 'eth1', addresses: ['198.18.22.2/24'] },
    { name: 'cali123', addresses: [] },
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'] },
  ],
};

const V4_NETS = ['198.18.21.0/24', '198.18.21.0/26', '198.18.21.0/27', '198.18.21.1/32', '198.18.21.4/30', '10.0.0.0/8', '0.0.0.0/0', '198.18.22.128/25'];
const V6_NETS = ['fd00:21::/64', 'fd00:21::1/128', 'fd00::/8', '::/0'];
export const V4_ADDRESSES = ['198.18.21.1', '198.18.21.2', '198.18.21.3', '198.18.21.5', '198.18.21.31', '198.18.21.32', '198.18.21.63', '198.18.21.64', '198.18.22.2', '198.18.22.200', '10.1.2.3', '203.0.113.9', '127.0.0.1'];
export const V6_ADDRESSES = ['fd00:21::1', 'fd00:21::2', 'fd00:21::99', 'fd00:99::1', '2001:db8::1', '::1'];
export const PORTS = [0, 21, 22, 23, 53, 68, 79, 80, 81, 443, 999, 1000, 1500, 2000, 2001, 8080, 9100, 40000, 65535];

const portsArb = fc.subarray(['22', '80', '1000:2000', '53', 'http', '443', '8080'], { minLength: 1, maxLength: 3 }).map((ps) => ps.map((p) => (/^[0-9]+$/.test(p) ? Number(p) : p)));
const netsArb = fc.oneof(fc.subarray(V4_NETS, { minLength: 1, maxLength: 3 }), fc.subarray(V6_NETS, { minLength: 1, maxLength: 2 }), fc.subarray([...V4_NETS, ...V6_NETS], { minLength: 1, maxLength: 3 }));
const selectorArb = fc.constantFrom("grp == 'a'", "grp == 'b'", 'has(grp)', "role == 'srv'", "role == 'peer'", 'all()');
const peerArb = fc.record({ nets: netsArb, notNets: netsArb, selector: selectorArb, notSelector: selectorArb }, { requiredKeys: [] });
const icmpArb = fc.option(fc.constantFrom({ type: 8 }, { type: 8, code: 0 }, { type: 3, code: 1 }, { type: 0 }), { nil: undefined });

const ruleArb = fc
  .record({
    action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log', 'Allow', 'Deny'),
    protocol: fc.option(fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPv6', 6, 17, 47), { nil: undefined }),
    notProtocol: fc.option(fc.constantFrom('TCP', 'UDP', 'ICMP'), { nil: undefined }),
    ipVersion: fc.option(fc.constantFrom(4, 6), { nil: undefined }),
    source: peerArb,
    destination: peerArb,
    srcPorts: fc.option(portsArb, { nil: undefined }),
    dstPorts: fc.option(portsArb, { nil: undefined }),
    notDstPorts: fc.option(portsArb, { nil: undefined }),
    icmp: icmpArb,
    notICMP: icmpArb,
  })
  .map((r) => {
    const withPorts = r.protocol === 'TCP' || r.protocol === 'UDP' || r.protocol === 'SCTP' || r.protocol === 6 || r.protocol === 17;
    const isIcmp = r.protocol === 'ICMP' || r.protocol === 'ICMPv6';
    const rule: Record<string, unknown> = { action: r.action };
    if (r.protocol !== undefined) rule.protocol = r.protocol;
    if (r.notProtocol !== undefined && r.notProtocol !== r.protocol) rule.notProtocol = r.notProtocol;
    if (r.ipVersion !== undefined && !isIcmp) rule.ipVersion = r.ipVersion;
    const source: Record<string, unknown> = { ...r.source };
    const destination: Record<string, unknown> = { ...r.destination };
    // Calico rejects a rule whose nets mix families with its ipVersion; keep the generator valid.
    const firstNet = [source.nets, source.notNets, destination.nets, destination.notNets].flatMap((l) => (l as string[] | undefined) ?? [])[0];
    const fam = rule.ipVersion ?? (r.protocol === 'ICMP' ? 4 : r.protocol === 'ICMPv6' ? 6 : firstNet?.includes(':') ? 6 : 4);
    for (const e of [source, destination]) {
      for (const k of ['nets', 'notNets'] as const) {
        const list = e[k] as string[] | undefined;
        if (!list) continue;
        // A catch-all in notNets is rejected (it matches nothing).
        const kept = list.filter((n) => n.includes(':') === (fam === 6) && !(k === 'notNets' && n.endsWith('/0')));
        if (kept.length > 0) e[k] = kept;
        else delete e[k];
      }
    }
    if (withPorts && r.srcPorts) source.ports = r.srcPorts.filter((p) => typeof p === 'number' || p === '1000:2000');
    if (withPorts && r.dstPorts) destination.ports = r.dstPorts;
    if (withPorts && r.notDstPorts) destination.notPorts = r.notDstPorts;
    if (Array.isArray(source.ports) && source.ports.length === 0) delete source.ports;
    if (isIcmp && r.icmp) rule.icmp = r.icmp;
    if (isIcmp && r.notICMP) rule.notICMP = r.notICMP;
    rule.source = source;
    rule.destination = destination;
    return rule;
  });

const policyArb = fc.record({
  kind: fc.constantFrom('normal', 'normal', 'normal', 'preDNAT', 'doNotTrack', 'forward'),
  tier: fc.constantFrom('default', 'default', 'first', 'second'),
  order: fc.option(fc.constantFrom(1, 2, 5), { nil: null }),
  selector: fc.constantFrom('all()', "role == 'srv'", "role == 'other'", 'has(role)'),
  ingress: fc.array(ruleArb, { maxLength: 4 }),
  egress: fc.array(ruleArb, { maxLength: 3 }),
});

export const repoArb = fc.record({
  policies: fc.array(policyArb, { maxLength: 5 }),
  firstTier: fc.constantFrom('Deny', 'Pass'),
  secondTier: fc.constantFrom('Deny', 'Pass'),
  profile: fc.option(fc.array(ruleArb, { maxLength: 2 }), { nil: undefined }),
  failsafe: fc.constantFrom('default', 'none', 'tcp22-from-mgmt', 'udp53'),
  heps: fc.constantFrom('named', 'named+wildcard', 'wildcard', 'by-ip'),
  toHost: fc.constantFrom('Drop', 'Accept', 'Return'),
});
export type Repo = typeof repoArb extends fc.Arbitrary<infer T> ? T : never;

/** A revision pair: a repository and one with a few of its parts replaced. */
export const revisionPairArb = repoArb.chain((base) =>
  fc
    .record({
      policies: fc.array(fc.tuple(fc.nat(), policyArb), { maxLength: 2 }),
      drop: fc.option(fc.nat(), { nil: undefined }),
      failsafe: fc.option(repoArb.map((r) => r.failsafe), { nil: undefined }),
      heps: fc.option(repoArb.map((r) => r.heps), { nil: undefined }),
      firstTier: fc.option(fc.constantFrom('Deny', 'Pass'), { nil: undefined }),
    })
    .map((m): [Repo, Repo] => {
      const policies = [...base.policies];
      for (const [i, p] of m.policies) {
        if (policies.length > 0 && i % 2 === 0) policies[i % policies.length] = p;
        else policies.push(p);
      }
      if (m.drop !== undefined && policies.length > 0) policies.splice(m.drop % policies.length, 1);
      return [base, { ...base, policies, failsafe: m.failsafe ?? base.failsafe, heps: m.heps ?? base.heps, firstTier: m.firstTier ?? base.firstTier }];
    }),
);

/** The repository as resource objects (for `stateOf`). */
export function docsOf(r: Repo): Record<string, unknown>[] {
  const ports = [{ name: 'http', protocol: 'TCP', port: 8080 }];
  const heps: Record<string, unknown>[] = [];
  const srv = { role: 'srv' };
  if (r.heps === 'named' || r.heps === 'named+wildcard') heps.push({ kind: 'HostEndpoint', metadata: { name: 'srv-eth0', labels: srv }, spec: { node: NODE, interfaceName: 'eth0', expectedIPs: ['198.18.21.2', 'fd00:21::2'], ports, profiles: r.profile ? ['prof'] : [] } });
  if (r.heps === 'wildcard' || r.heps === 'named+wildcard') heps.push({ kind: 'HostEndpoint', metadata: { name: 'srv-all', labels: { role: 'other' } }, spec: { node: NODE, interfaceName: '*', profiles: r.profile ? ['prof'] : [] } });
  if (r.heps === 'by-ip') heps.push({ kind: 'HostEndpoint', metadata: { name: 'srv-ip', labels: srv }, spec: { node: NODE, expectedIPs: ['198.18.22.2'], ports } });
  const docs: Record<string, unknown>[] = [
    ...heps,
    { kind: 'HostEndpoint', metadata: { name: 'peer', labels: { role: 'peer', grp: 'b' } }, spec: { node: 'peer', interfaceName: 'eth0', expectedIPs: ['198.18.21.3', 'fd00:21::1'], ports } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'grp-a', labels: { grp: 'a' } }, spec: { nets: ['198.18.21.1/32', 'fd00:21::99/128'] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'grp-b', labels: { grp: 'b' } }, spec: { nets: ['198.18.21.4/31', '10.1.0.0/16'] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'mgmt', labels: { network: 'management' } }, spec: { nets: ['198.18.21.0/27'] } },
    { kind: 'Tier', metadata: { name: 'first' }, spec: { order: 10, defaultAction: r.firstTier } },
    { kind: 'Tier', metadata: { name: 'second' }, spec: { order: 20, defaultAction: r.secondTier } },
  ];
  const felix: Record<string, unknown> = { defaultEndpointToHostAction: r.toHost };
  if (r.failsafe === 'none') Object.assign(felix, { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] });
  if (r.failsafe === 'tcp22-from-mgmt') Object.assign(felix, { failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22, net: '198.18.21.0/27' }], failsafeOutboundHostPorts: [{ protocol: 'UDP', port: 53 }] });
  if (r.failsafe === 'udp53') Object.assign(felix, { failsafeInboundHostPorts: [{ protocol: 'UDP', port: 53 }], failsafeOutboundHostPorts: [{ protocol: 'TCP', port: 443, net: '10.0.0.0/8' }] });
  docs.push({ kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: felix });
  if (r.profile) docs.push({ kind: 'Profile', metadata: { name: 'prof' }, spec: { ingress: r.profile, egress: r.profile } });
  r.policies.forEach((p, i) => {
    const name = p.tier === 'default' ? `p${i}` : `${p.tier}.p${i}`;
    const spec: Record<string, unknown> = { tier: p.tier, order: p.order, selector: p.selector, ingress: p.ingress };
    if (p.kind === 'preDNAT') Object.assign(spec, { preDNAT: true, applyOnForward: true, types: ['Ingress'] });
    else {
      spec.egress = p.egress;
      spec.types = ['Ingress', 'Egress'];
      if (p.kind === 'doNotTrack') Object.assign(spec, { doNotTrack: true, applyOnForward: true });
      if (p.kind === 'forward') spec.applyOnForward = true;
    }
    docs.push({ kind: 'GlobalNetworkPolicy', metadata: { name }, spec });
  });
  return docs.map(withoutInvalidRules);
}

/**
 * The generator composes rule fields freely; the ones Calico's validator rejects (icmp needs
 * ipVersion 4, …) are dropped here, so every repository is valid and the rest stays random.
 */
function withoutInvalidRules(doc: Record<string, unknown>): Record<string, unknown> {
  for (let tries = 0; tries < 20; tries++) {
    const parsed = Resource.safeParse({ apiVersion: 'projectcalico.org/v3', ...doc });
    if (parsed.success) return doc;
    const spec = { ...(doc.spec as Record<string, unknown[]>) };
    const bad = new Set(parsed.error.issues.filter((i) => i.path[0] === 'spec' && (i.path[1] === 'ingress' || i.path[1] === 'egress')).map((i) => `${String(i.path[1])}/${String(i.path[2])}`));
    if (bad.size === 0) throw parsed.error;
    for (const dir of ['ingress', 'egress']) if (spec[dir]) spec[dir] = spec[dir].filter((_, i) => !bad.has(`${dir}/${i}`));
    doc = { ...doc, spec };
  }
  return doc;
}

const PROTOCOLS = ['tcp', 'udp', 'sctp', 'icmp', 'icmpv6', '47', '0', '255', '132', '136'] as const;
const INTERFACES = ['eth0', 'eth1', 'cali123', 'lo', 'eth9', 'cali9'];

/** A random first packet over the pools (deterministic from `rand`, a [0,1) source). */
export function randomPacket(rand: () => number): Packet {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)]!;
  const v6 = rand() < 0.3;
  const addr = () => (v6 ? pick(V6_ADDRESSES) : pick(V4_ADDRESSES));
  const proto = pick(PROTOCOLS);
  const iface = pick(INTERFACES);
  const direction = rand() < 0.5 ? 'ingress' : 'egress';
  const packet: Packet = { iface, direction, proto, src: addr(), dst: addr() };
  if (direction === 'ingress' && rand() < 0.15) packet.forwardTo = pick(INTERFACES);
  if (proto === 'tcp' || proto === 'udp' || proto === 'sctp' || proto === '132') {
    packet.sport = rand() < 0.7 ? 40000 : pick(PORTS);
    packet.dport = pick(PORTS);
  }
  const icmpProto = v6 ? 'icmpv6' : 'icmp';
  if (proto === icmpProto) {
    packet.icmpType = pick([0, 3, 8, 11, 128]);
    packet.icmpCode = pick([0, 1, 2]);
  }
  return packet;
}
