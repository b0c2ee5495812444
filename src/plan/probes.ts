import { containsAddress, formatCidr, parseCidr, tryParseCidr, type Cidr } from '../net/cidr.js';
import type { Direction, Family, HostProgram, PortMatch, RuleChain } from '../compiler/ir.js';
import { PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP, protocolLabel } from '../compiler/protocols.js';
import type { DesiredState } from '../state/desired-state.js';
import type { CheckNeed } from './check-needs.js';

/**
 * The probe set: which remote addresses and which services the plan simulates. Everything is
 * drawn from the repository (calico-model.md §3): nets and selectors in rules, GlobalNetworkSets,
 * failsafe entries, host addresses, declared checks, plus "anywhere". Addresses that every rule
 * treats alike are folded into one class and simulated once.
 */

/** A remote side a reviewer recognises. Lower rank is shown first when a class has several. */
export interface Peer {
  label: string;
  address: string;
  family: Family;
  management: boolean;
  /** Set for a host's own address: a host is not probed from itself. */
  node?: string;
  anywhere?: boolean;
  rank: number;
}

/** Peers no rule, set or failsafe tells apart. */
export interface PeerClass {
  family: Family;
  members: Peer[];
}

export interface Service {
  proto: number;
  port?: number;
  icmpType?: number;
  /** A port no rule names: stands for "any other port". */
  unlisted?: boolean;
}

const MANAGEMENT = /manag|mgmt|admin|bastion|jump/i;

const RANK = { management: 0, networkSet: 1, ruleNet: 2, failsafeNet: 3, checkTarget: 4, anywhere: 5, host: 6 } as const;

/** Networks named as management: `--management-net`, and GlobalNetworkSets whose name or labels say so. */
export function managementNets(states: readonly DesiredState[], extra: readonly string[]): { net: string; label: string }[] {
  const out = extra.map((net) => ({ net, label: `${net} (management)` }));
  for (const state of states) {
    for (const set of state.networkSets) {
      const named = [set.metadata.name, ...Object.entries(set.metadata.labels).flat()].some((s) => MANAGEMENT.test(s));
      if (named) out.push(...set.spec.nets.map((net) => ({ net, label: `${net} (GlobalNetworkSet ${set.metadata.name})` })));
    }
  }
  return uniqueBy(out, (m) => `${m.net}|${m.label}`);
}

export interface PeerSources {
  states: readonly DesiredState[];
  programs: readonly HostProgram[];
  management: readonly { net: string; label: string }[];
  needs: readonly CheckNeed[];
}

/** Every peer candidate, folded into classes by the set of known networks its address falls in. */
export function peerClasses(src: PeerSources): PeerClass[] {
  const known = knownNets(src);
  const candidates: Peer[] = [];
  const addNet = (text: string, label: string, rank: number, management = false) => {
    const net = tryParseCidr(text);
    if (!net) return;
    candidates.push({ label, address: representative(net, known), family: net.family, management, rank });
  };
  for (const m of src.management) addNet(m.net, m.label, RANK.management, true);
  for (const state of src.states) for (const set of state.networkSets) for (const n of set.spec.nets) addNet(n, `${n} (GlobalNetworkSet ${set.metadata.name})`, RANK.networkSet);
  for (const p of src.programs) {
    for (const chain of p.chains) for (const net of chainNets(chain)) addNet(net, net, RANK.ruleNet);
    for (const f of [...p.failsafe.inbound, ...p.failsafe.outbound]) if (f.net) addNet(f.net, f.net, RANK.failsafeNet);
  }
  for (const need of src.needs) if (need.target) addNet(need.target, `${need.target} (check ${need.name})`, RANK.checkTarget);
  for (const state of src.states) {
    for (const hep of state.hostEndpoints) {
      for (const ip of hep.spec.expectedIPs) {
        const c = tryParseCidr(ip);
        if (c) candidates.push({ label: `${formatAddress(c)} (${hep.spec.node})`, address: formatAddress(c), family: c.family, management: false, node: hep.spec.node, rank: RANK.host });
      }
    }
  }
  const families = new Set<Family>([4, ...candidates.map((c) => c.family)]);
  for (const family of families) {
    candidates.push({ label: family === 4 ? '0.0.0.0/0' : '::/0', address: outsideAll(family, known), family, management: false, anywhere: true, rank: RANK.anywhere });
  }

  const classes = new Map<string, PeerClass>();
  for (const peer of uniqueBy(candidates, (c) => `${c.label}|${c.address}`)) {
    const address = parseCidr(peer.address);
    const key = `${peer.family}:${known.signature(address)}`;
    const cls = classes.get(key) ?? { family: peer.family, members: [] };
    cls.members.push(peer);
    classes.set(key, cls);
  }
  for (const cls of classes.values()) cls.members.sort((a, b) => a.rank - b.rank || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
  return [...classes.values()].sort((a, b) => a.members[0]!.rank - b.members[0]!.rank || (a.members[0]!.label < b.members[0]!.label ? -1 : 1));
}

/**
 * The address groups that decide anything: each address set and named-port set (as a whole: its
 * members are alike to every rule that uses it), each rule net, failsafe net and network-set net.
 */
interface KnownNets {
  nets: Cidr[];
  /** Indexes of the groups holding `address`, as one string. */
  signature(address: Cidr): string;
}

function knownNets(src: PeerSources): KnownNets {
  const groups = new Map<string, Set<string>>();
  const group = (key: string, members: Iterable<string>) => {
    const set = groups.get(key) ?? new Set<string>();
    for (const m of members) set.add(m);
    groups.set(key, set);
  };
  for (const p of src.programs) {
    // Keyed by content too: a set that gains a member in the head is a different group from the base's.
    for (const s of p.addressSets) group(`set:${s.selector}|${s.elements.join(',')}`, s.elements);
    for (const s of p.namedPortSets) group(`ports:${s.selector}|${s.port}|${JSON.stringify(s.elements)}`, s.elements.map((e) => e.address));
    for (const c of p.chains) for (const n of chainNets(c)) group(`net:${n}`, [n]);
    for (const f of [...p.failsafe.inbound, ...p.failsafe.outbound]) if (f.net) group(`net:${f.net}`, [f.net]);
  }
  for (const state of src.states) for (const set of state.networkSets) for (const n of set.spec.nets) group(`net:${n}`, [n]);
  for (const m of src.management) group(`net:${m.net}`, [m.net]);
  // Host routes (most set members) are looked up by address; only real networks are scanned.
  const hosts = new Map<string, number[]>();
  const networks: { net: Cidr; g: number }[] = [];
  const nets: Cidr[] = [];
  [...groups.values()].forEach((members, g) => {
    for (const text of members) {
      const net = tryParseCidr(text);
      if (!net) continue;
      nets.push(net);
      if (net.prefix === (net.family === 4 ? 32 : 128)) hosts.set(formatCidr(net), [...(hosts.get(formatCidr(net)) ?? []), g]);
      else networks.push({ net, g });
    }
  });
  return {
    nets,
    signature(address) {
      const hits = [...(hosts.get(formatCidr(address)) ?? []), ...networks.filter((n) => containsAddress(n.net, address)).map((n) => n.g)];
      return [...new Set(hits)].sort((a, b) => a - b).join(',');
    },
  };
}

function chainNets(chain: RuleChain): string[] {
  return chain.rules.flatMap((r) => r.matches.flatMap((m) => [...(m.src.nets ?? []), ...(m.src.notNets ?? []), ...(m.dst.nets ?? []), ...(m.dst.notNets ?? [])]));
}

const formatAddress = (c: Cidr): string => formatCidr(c).split('/')[0]!;
const offsetAddress = (net: Cidr, delta: bigint): Cidr => ({ family: net.family, base: net.base + delta, prefix: net.family === 4 ? 32 : 128 });

/**
 * An address inside `net` that is, if possible, outside every more specific known network, so a
 * rule excluding a sub-network does not hide the rest of the network from the probe.
 */
function representative(net: Cidr, known: KnownNets): string {
  const bits = net.family === 4 ? 32 : 128;
  const size = 1n << BigInt(bits - net.prefix);
  const tries = size <= 2n ? [0n] : [1n, size - 2n, size / 2n + 1n, size / 4n + 1n, (3n * size) / 4n + 1n];
  const inner = known.nets.filter((k) => k.family === net.family && k.prefix > net.prefix && containsAddress(net, k));
  const pick = tries.map((d) => offsetAddress(net, d)).find((a) => !inner.some((k) => containsAddress(k, a))) ?? offsetAddress(net, tries[0]!);
  return formatAddress(pick);
}

/** A usable address inside a net (or the address itself); undefined when the text is neither. */
export function sampleAddress(text: string): string | undefined {
  const net = tryParseCidr(text);
  if (!net) return undefined;
  const size = 1n << BigInt((net.family === 4 ? 32 : 128) - net.prefix);
  return formatAddress(offsetAddress(net, size <= 2n ? 0n : 1n));
}

const ANYWHERE_TRIES: Record<Family, string[]> = {
  4: ['203.0.113.99', '192.0.2.99', '198.51.100.99', '100.64.7.99', '11.22.33.44', '172.31.254.99'],
  6: ['2001:db8::99', '2001:db8:ffff::99', 'fd00:99::99', '3fff::99'],
};

/** An address in no known network except catch-alls: a stranger on the Internet. */
function outsideAll(family: Family, known: KnownNets): string {
  const specific = known.nets.filter((n) => n.family === family && n.prefix > 0);
  return ANYWHERE_TRIES[family].find((a) => !specific.some((n) => containsAddress(n, parseCidr(a)))) ?? ANYWHERE_TRIES[family][0]!;
}

/** The services to probe in one direction on one host: failsafe ports, ports in its rules, checks. */
export function servicesFor(direction: Direction, programs: readonly HostProgram[], needs: readonly CheckNeed[]): Service[] {
  const out: Service[] = [];
  const used = new Map<number, [number, number][]>();
  const note = (proto: number, lo: number, hi: number) => used.set(proto, [...(used.get(proto) ?? []), [lo, hi]]);
  const protosWithoutPorts = new Set<number>();
  for (const p of programs) {
    for (const f of direction === 'ingress' ? p.failsafe.inbound : p.failsafe.outbound) {
      const proto = f.protocol === 'udp' ? PROTO_UDP : PROTO_TCP;
      out.push({ proto, port: f.port });
      note(proto, f.port, f.port);
    }
    const portSets = new Map(p.namedPortSets.map((s) => [s.id, s]));
    for (const chain of p.chains) {
      if (chain.direction !== direction) continue;
      for (const rule of chain.rules) {
        for (const m of rule.matches) {
          const proto = m.protocol;
          if (proto === undefined) {
            protosWithoutPorts.add(PROTO_TCP);
            continue;
          }
          if (proto === PROTO_ICMP || proto === PROTO_ICMPV6) {
            out.push({ proto, icmpType: m.icmp?.type ?? (proto === PROTO_ICMP ? 8 : 128) });
            continue;
          }
          const ports = [m.dst.ports, m.dst.notPorts].filter((x): x is PortMatch => x !== undefined);
          if (ports.length === 0 || !hasPorts(proto)) protosWithoutPorts.add(proto);
          for (const pm of ports) {
            for (const [lo, hi] of pm.ranges) {
              out.push({ proto, port: lo });
              if (hi !== lo) out.push({ proto, port: hi });
              note(proto, lo, hi);
            }
            for (const e of pm.namedSet ? (portSets.get(pm.namedSet)?.elements ?? []) : []) {
              out.push({ proto, port: e.port });
              note(proto, e.port, e.port);
            }
          }
        }
      }
    }
  }
  for (const need of needs) {
    if (need.direction !== direction) continue;
    out.push(need.service);
    if (need.service.port !== undefined) note(need.service.proto, need.service.port, need.service.port);
  }
  for (const proto of [PROTO_TCP, PROTO_UDP, ...protosWithoutPorts]) {
    if (!hasPorts(proto)) out.push({ proto });
    else out.push({ proto, port: unlistedPort(used.get(proto) ?? []), unlisted: true });
  }
  return uniqueBy(out, serviceLabel).sort((a, b) => a.proto - b.proto || (a.port ?? a.icmpType ?? -1) - (b.port ?? b.icmpType ?? -1));
}

const hasPorts = (proto: number) => proto === PROTO_TCP || proto === PROTO_UDP || proto === PROTO_SCTP;

/** The first port from 33333 up that no rule, failsafe or check names. */
function unlistedPort(ranges: readonly [number, number][]): number {
  for (let port = 33333; port <= 65535; port++) if (!ranges.some(([lo, hi]) => port >= lo && port <= hi)) return port;
  return 65535;
}

export function serviceLabel(s: Service): string {
  const proto = protocolLabel(s.proto);
  if (s.icmpType !== undefined) return `${proto} type ${s.icmpType}`;
  return s.port !== undefined ? `${proto}/${s.port}` : proto;
}

function uniqueBy<T>(list: readonly T[], key: (t: T) => string): T[] {
  const seen = new Set<string>();
  return list.filter((t) => !seen.has(key(t)) && seen.add(key(t)));
}
