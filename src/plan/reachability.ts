import { containsAddress, parseCidr } from '../net/cidr.js';
import type { Direction, EndpointProgram, EntityMatch, Family, HostFacts, HostProgram } from '../compiler/ir.js';
import { stageKey, STAGE_KINDS } from '../compiler/ir.js';
import { PROTO_ICMP, protocolLabel } from '../compiler/protocols.js';
import { formatVerdict, simulate, type Packet, type Simulation } from '../simulator/index.js';
import type { DesiredState, SourceLocation } from '../state/desired-state.js';
import type { CheckNeed } from './check-needs.js';
import type { FieldLocator } from './locate.js';
import type { Location, ReachabilityChange } from './plan-report.js';
import { serviceLabel, servicesFor, type Peer, type PeerClass, type Service } from './probes.js';

/** A reachability change with what the lockout analysis needs to match it against checks. */
export interface Change {
  report: ReachabilityChange;
  peers: Peer[];
  service: Service;
}

export interface RevisionView {
  state: DesiredState;
  program: HostProgram;
  locator: FieldLocator;
}

const EPHEMERAL_PORT = 40000;
const LOOPBACK: Record<Family, Peer> = {
  4: { label: 'localhost', address: '127.0.0.1', family: 4, management: false, rank: 0 },
  6: { label: 'localhost', address: '::1', family: 6, management: false, rank: 0 },
};
const DOCUMENTATION_ADDRESS: Record<Family, string> = { 4: '192.0.2.1', 6: '2001:db8::1' };

/**
 * Simulates every probe on one host under both revisions and keeps those whose outcome differs
 * ("open": allowed or not policed; "closed": denied). An interface and direction whose policy is
 * the same in both programs cannot change and is skipped.
 */
export function hostReachability(facts: HostFacts, before: RevisionView, after: RevisionView, classes: readonly PeerClass[], needs: readonly CheckNeed[]): { changes: Change[]; probes: number } {
  const changes: Change[] = [];
  let probes = 0;
  const host = facts.node;
  const workload = (iface: string) => after.program.workloadPrefixes.some((p) => iface.startsWith(p)) || before.program.workloadPrefixes.some((p) => iface.startsWith(p));
  for (const iface of facts.interfaces) {
    if (workload(iface.name)) continue;
    for (const direction of ['ingress', 'egress'] as const) {
      if (directionView(before.program, iface.name, direction) === directionView(after.program, iface.name, direction)) continue;
      const services = servicesFor(direction, [before.program, after.program], needs);
      const peers = iface.name === 'lo' ? [[LOOPBACK[4]], [LOOPBACK[6]]] : classes.map((c) => c.members.filter((m) => m.node !== host));
      const addresses = [...peers.flatMap((m) => (m[0] ? [m[0].address, localAddress(facts, iface.name, m[0].family)] : []))];
      const programs = { before: forProbes(before.program, addresses), after: forProbes(after.program, addresses) };
      for (const members of peers) {
        const peer = members[0];
        if (!peer) continue;
        const local = localAddress(facts, iface.name, peer.family);
        for (const service of services) {
          if (service.icmpType !== undefined && (service.proto === PROTO_ICMP) !== (peer.family === 4)) continue;
          const packet = probePacket(iface.name, direction, service, peer.address, local);
          const b = simulate(programs.before, packet);
          const a = simulate(programs.after, packet);
          probes += 2;
          const wasOpen = b.verdict !== 'deny';
          if (wasOpen === (a.verdict !== 'deny')) continue;
          const at = culprit(host, direction, b, a, before, after);
          const svc = serviceLabel(service);
          const beforeV = { verdict: b.verdict, reason: formatVerdict(b) };
          const afterV = { verdict: a.verdict, reason: formatVerdict(a) };
          const report: ReachabilityChange = {
            host,
            iface: iface.name,
            direction,
            protocol: protocolLabel(service.proto),
            ...(service.port !== undefined ? { port: service.port } : {}),
            ...(service.icmpType !== undefined ? { icmpType: service.icmpType } : {}),
            peer: peer.label,
            peerAddress: peer.address,
            equivalentPeers: members.slice(1).map((m) => m.label),
            change: wasOpen ? 'closed' : 'opened',
            before: beforeV,
            after: afterV,
            ...(at ? { at } : {}),
            text: `${host} ${iface.name} ${direction} ${svc}${service.unlisted ? ' (any other port)' : ''} ${direction === 'ingress' ? 'from' : 'to'} ${peer.label}: ${beforeV.reason} → ${afterV.reason}`,
          };
          changes.push({ report, peers: members, service });
        }
      }
    }
  }
  return { changes, probes };
}

/**
 * The program with its sets cut down to the elements holding one of the probe addresses. The
 * verdict for those addresses is unchanged, and the simulator, which indexes every set element
 * for each packet, no longer pays for a fleet-wide set on every probe.
 */
function forProbes(p: HostProgram, addresses: readonly string[]): HostProgram {
  const probes = [...new Set(addresses)].map((a) => parseCidr(a));
  const holds = (element: string) => {
    const net = parseCidr(element);
    return probes.some((a) => containsAddress(net, a));
  };
  return {
    ...p,
    addressSets: p.addressSets.map((s) => ({ ...s, elements: s.elements.filter(holds) })),
    namedPortSets: p.namedPortSets.map((s) => ({ ...s, elements: s.elements.filter((e) => holds(e.address)) })),
  };
}

function probePacket(iface: string, direction: Direction, s: Service, peer: string, local: string): Packet {
  const [src, dst] = direction === 'ingress' ? [peer, local] : [local, peer];
  const packet: Packet = { iface, direction, proto: s.proto, src, dst };
  if (s.port !== undefined) Object.assign(packet, { sport: EPHEMERAL_PORT, dport: s.port });
  if (s.icmpType !== undefined) Object.assign(packet, { icmpType: s.icmpType, icmpCode: 0 });
  return packet;
}

/** The host's address on `iface`, else on any interface, else a documentation address. */
export function localAddress(facts: HostFacts, iface: string, family: Family): string {
  const ofFamily = (addrs: readonly string[]) => addrs.map((a) => a.split('/')[0]!).find((a) => a.includes(':') === (family === 6));
  const own = ofFamily(facts.interfaces.find((i) => i.name === iface)?.addresses ?? []);
  const any = ofFamily(facts.interfaces.filter((i) => i.name !== 'lo').flatMap((i) => i.addresses));
  return own ?? any ?? DOCUMENTATION_ADDRESS[family];
}

/**
 * Everything the simulator reads for one interface and direction, as one string: the endpoint
 * that governs it, its stages, the chains and sets they reach, the failsafe list. Equal strings,
 * equal verdicts for every packet.
 */
export function directionView(p: HostProgram, iface: string, direction: Direction): string {
  const binding = p.interfaces.find((b) => b.iface === iface);
  const endpoint = (specificOnly: boolean): EndpointProgram | undefined =>
    binding?.role === 'hep' && binding.via !== 'wildcard' ? p.endpoints.find((e) => e.hep === binding.hep) : binding?.role === 'workload' || specificOnly ? undefined : p.endpoints.find((e) => e.wildcard);
  const eps = [endpoint(true), endpoint(false)];
  const stages = eps.map((ep) => (ep ? { hep: ep.hep, stages: STAGE_KINDS.map((k) => ep.stages[stageKey(k, direction)] ?? null) } : null));
  const chainIds = new Set(stages.flatMap((s) => s?.stages.flatMap((sp) => (sp ? [...sp.tiers.flatMap((t) => t.policies), ...sp.profiles] : [])) ?? []));
  const chains = p.chains.filter((c) => chainIds.has(c.id));
  const setIds = new Set(chains.flatMap((c) => c.rules.flatMap((r) => r.matches.flatMap((m) => [...entitySets(m.src), ...entitySets(m.dst)]))));
  return JSON.stringify({
    binding,
    stages,
    chains,
    sets: p.addressSets.filter((s) => setIds.has(s.id)),
    portSets: p.namedPortSets.filter((s) => setIds.has(s.id)),
    failsafe: direction === 'ingress' ? p.failsafe.inbound : p.failsafe.outbound,
    toHost: p.defaultEndpointToHostAction,
    workloads: p.workloadPrefixes,
  });
}

const entitySets = (e: EntityMatch): string[] => [e.set, e.notSet, e.ports?.namedSet, e.notPorts?.namedSet].filter((x): x is string => x !== undefined);

/**
 * Where to look for the cause: the failsafe list when a failsafe stopped (or started) deciding,
 * else what decides after the change (a rule, a policy's end of tier, a host endpoint without
 * policy), else what decided before (a host endpoint that was removed).
 */
function culprit(host: string, direction: Direction, b: Simulation, a: Simulation, before: RevisionView, after: RevisionView): Location | undefined {
  const decided = (s: Simulation) => s.path[s.path.length - 1];
  const isFailsafe = (s: Simulation) => decided(s)?.text.startsWith('failsafe ') ?? false;
  if (isFailsafe(b) !== isFailsafe(a)) return failsafeLocation(host, direction, after) ?? failsafeLocation(host, direction, before);
  return stepLocation(decided(a), direction, after) ?? stepLocation(decided(b), direction, before);
}

function stepLocation(step: Simulation['path'][number] | undefined, direction: Direction, view: RevisionView): SourceLocation | undefined {
  if (!step) return undefined;
  if (step.policy !== undefined) return view.locator.locate(`GlobalNetworkPolicy/${step.policy}`, step.rule !== undefined ? ['spec', direction, step.rule] : []);
  if (step.profile !== undefined) return view.locator.locate(`Profile/${step.profile}`, step.rule !== undefined ? ['spec', direction, step.rule] : []);
  // "policy X, end of tier T": the policy that was last to see the packet.
  const endOfTier = /^policy (\S+), end of tier/.exec(step.text);
  if (endOfTier) return view.locator.locate(`GlobalNetworkPolicy/${endOfTier[1]}`);
  if (step.hep !== undefined) return view.locator.locate(`HostEndpoint/${step.hep}`);
  return undefined;
}

/** The FelixConfiguration that sets the host's failsafe list (`node.<host>` before `default`). */
function failsafeLocation(host: string, direction: Direction, view: RevisionView): SourceLocation | undefined {
  const field = direction === 'ingress' ? 'failsafeInboundHostPorts' : 'failsafeOutboundHostPorts';
  for (const name of [`node.${host}`, 'default']) {
    const config = view.state.felixConfigs.find((f) => f.metadata.name === name);
    if (config?.spec[field] !== undefined) return view.locator.locate(`FelixConfiguration/${name}`, ['spec', field]);
  }
  return undefined;
}
