import { parseCidr, type Cidr } from '../net/cidr.js';
import {
  stageKey,
  type CompiledRule,
  type Direction,
  type EndpointProgram,
  type EntityMatch,
  type Family,
  type FamilyMatch,
  type HostProgram,
  type IcmpMatch,
  type PortMatch,
  type RuleChain,
  type StageKind,
} from '../compiler/ir.js';
import { parsePacketProtocol, protocolLabel } from '../compiler/protocols.js';
import { prepareProgram, type PreparedFailsafe, type PreparedProgram } from './prepared-program.js';

/** A new flow's first packet as one host sees it (conntrack state is out of scope). */
export interface Packet {
  /** Interface the packet arrives on (ingress) or leaves by (egress). */
  iface: string;
  direction: Direction;
  /** For a forwarded packet (direction ingress): the interface it leaves by. */
  forwardTo?: string;
  proto: number | string;
  src: string;
  dst: string;
  sport?: number;
  dport?: number;
  icmpType?: number;
  icmpCode?: number;
}

export type Verdict = 'allow' | 'deny' | 'no-policy';

export interface Step {
  stage: StageKind | 'dispatch';
  /** Human text; the last step's text is the reason for the verdict. */
  text: string;
  hep?: string;
  tier?: string;
  policy?: string;
  profile?: string;
  rule?: number;
}

export interface Simulation {
  verdict: Verdict;
  path: Step[];
}

export class PacketError extends Error {
  readonly code = 'PACKET_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'PacketError';
  }
}

interface Pkt {
  family: Family;
  proto: number;
  src: Cidr;
  dst: Cidr;
  sport?: number | undefined;
  dport?: number | undefined;
  icmpType?: number | undefined;
  icmpCode?: number | undefined;
}

type Outcome = { kind: 'allow' | 'deny' | 'none' };

/**
 * Walks the host program the way the kernel walks the rendered table: raw (untracked), mangle
 * (pre-DNAT), then filter input / output / forward, each stage dispatched by interface. The
 * program is indexed on its first packet and the index reused for every later one.
 */
export function simulate(program: HostProgram, packet: Packet): Simulation {
  const pkt = normalise(packet);
  const path: Step[] = [];
  const prepared = prepareProgram(program);
  const ctx: Ctx = { pkt, path, prepared };
  const done = (verdict: Verdict): Simulation => ({ verdict, path });

  // raw: untracked policy (never for the `*` HEP); mangle: pre-DNAT, ingress only.
  const early: [StageKind, Direction][] = packet.direction === 'ingress' ? [['untracked', 'ingress'], ['prednat', 'ingress']] : [['untracked', 'egress']];
  for (const [stage, direction] of early) {
    // Pre-DNAT dispatch has no workload exclusion: the `*` HEP's policy meets workload traffic too.
    const ep = stage === 'prednat' && prepared.isWorkload(packet.iface) ? prepared.wildcardEndpoint() : prepared.endpointFor(packet.iface, stage === 'untracked');
    const sp = ep?.stages[stageKey(stage, direction)];
    if (!ep || !sp) continue;
    const o = runStage(ctx, ep, stage, direction);
    if (o.kind === 'deny') return done('deny');
    if (o.kind === 'allow') return done('allow');
  }

  if (packet.forwardTo !== undefined) {
    let allowed = false;
    for (const [iface, direction] of [[packet.iface, 'ingress'], [packet.forwardTo, 'egress']] as const) {
      if (prepared.isWorkload(iface)) continue;
      const ep = prepared.endpointFor(iface, false);
      if (!ep?.stages[stageKey('forward', direction)]) continue;
      const o = runStage(ctx, ep, 'forward', direction);
      if (o.kind === 'deny') return done('deny');
      allowed ||= o.kind === 'allow';
    }
    if (!allowed) path.push({ stage: 'dispatch', text: 'no applyOnForward policy decided' });
    return done(allowed ? 'allow' : 'no-policy');
  }

  if (prepared.isWorkload(packet.iface)) {
    if (packet.direction === 'egress') {
      path.push({ stage: 'dispatch', text: `host to workload interface ${packet.iface} is not host-endpoint policy` });
      return done('no-policy');
    }
    const action = program.defaultEndpointToHostAction;
    path.push({ stage: 'dispatch', text: `defaultEndpointToHostAction ${action} for workload interface ${packet.iface}` });
    return done(action === 'Drop' ? 'deny' : action === 'Accept' ? 'allow' : 'no-policy');
  }
  const ep = prepared.endpointFor(packet.iface, false);
  if (!ep) {
    const excluded = program.interfaces.some((b) => b.iface === packet.iface && b.role === 'excluded');
    path.push({ stage: 'dispatch', text: excluded ? `interface ${packet.iface} is in interfaceExclude: Felix does not police it` : `interface ${packet.iface} has no host endpoint` });
    return done('no-policy');
  }
  const o = runStage(ctx, ep, 'normal', packet.direction);
  return done(o.kind === 'allow' ? 'allow' : 'deny');
}

/** One line: the verdict and what produced it, e.g. `deny (policy k8s-worker, end of tier default)`. */
export function formatVerdict(sim: Simulation): string {
  const last = sim.path[sim.path.length - 1];
  return last ? `${sim.verdict} (${last.text})` : sim.verdict;
}

/** The whole path, one step a line, for `palisade explain`. */
export function formatPath(sim: Simulation): string {
  return [...sim.path.map((s, i) => `${String(i + 1).padStart(3)}. [${s.stage}] ${s.text}`), `=> ${formatVerdict(sim)}`].join('\n');
}

interface Ctx {
  pkt: Pkt;
  path: Step[];
  prepared: PreparedProgram;
}

function runStage(ctx: Ctx, ep: EndpointProgram, stage: StageKind, direction: Direction): Outcome {
  const sp = ep.stages[stageKey(stage, direction)];
  const { path, pkt } = ctx;
  const at = (text: string, extra: Partial<Step> = {}): Step => ({ stage, hep: ep.hep, text, ...extra });
  if (!sp) return { kind: 'none' };
  path.push(at(`HostEndpoint ${ep.hep} ${stage} ${direction}`));
  if (stage !== 'forward') {
    const list = ctx.prepared.failsafe[stage === 'untracked' ? 'raw' : 'filter'][direction];
    const hit = list.find((f) => failsafeMatches(f, pkt));
    if (hit) {
      path.push(at(`failsafe ${hit.protocol}/${hit.port}${hit.net ? ` ${hit.net}` : ''}${hit.portOf === 'source' ? ' (reply, by source port)' : ''}`));
      // In raw and mangle a failsafe only ends that stage; filter still sees the packet.
      return stage === 'normal' ? { kind: 'allow' } : { kind: 'none' };
    }
  }
  const allowKind = (): Outcome => ({ kind: 'allow' });
  for (const tier of sp.tiers) {
    let last = '';
    let passed = false;
    for (const id of tier.policies) {
      const chain = ctx.prepared.chain(id);
      if (!chain) continue;
      last = chain.name;
      const r = runChain(ctx, chain, at, tier.name);
      if (r === 'allow') return allowKind();
      if (r === 'deny') return { kind: 'deny' };
      if (r === 'pass') {
        passed = true;
        break;
      }
    }
    if (!passed && tier.endOfTier === 'drop') {
      path.push(at(`${last ? `policy ${last}, ` : ''}end of tier ${tier.name}`, { tier: tier.name }));
      return { kind: 'deny' };
    }
  }
  for (const id of sp.profiles) {
    const chain = ctx.prepared.chain(id);
    if (!chain) continue;
    const r = runChain(ctx, chain, at);
    if (r === 'allow') return allowKind();
    if (r === 'deny') return { kind: 'deny' };
  }
  if (sp.final === 'drop') {
    path.push(at(sp.tiers.length + sp.profiles.length === 0 ? `HostEndpoint ${ep.hep} has no ${direction} policy or profile: default drop` : `no policy or profile allowed: default drop`));
    return { kind: 'deny' };
  }
  return { kind: 'none' };
}

function runChain(ctx: Ctx, chain: RuleChain, at: (text: string, extra?: Partial<Step>) => Step, tier?: string): 'allow' | 'deny' | 'pass' | 'none' {
  const who = chain.kind === 'policy' ? `policy ${chain.name}` : `profile ${chain.name}`;
  const ref = chain.kind === 'policy' ? { policy: chain.name, tier } : { profile: chain.name };
  for (const rule of chain.rules) {
    if (!ruleMatches(ctx, rule)) continue;
    const action = { allow: 'Allow', deny: 'Deny', pass: 'Pass', log: 'Log' }[rule.action];
    ctx.path.push(at(`${who} ${chain.direction} rule ${rule.index} (${action})`, { ...ref, rule: rule.index }));
    if (rule.action !== 'log') return rule.action;
  }
  return 'none';
}

function ruleMatches(ctx: Ctx, rule: CompiledRule): boolean {
  return rule.matches.some((m) => familyMatches(ctx, m));
}

function familyMatches(ctx: Ctx, m: FamilyMatch): boolean {
  const { pkt } = ctx;
  if (m.family !== null && m.family !== pkt.family) return false;
  if (m.protocol !== undefined && pkt.proto !== m.protocol) return false;
  if (m.notProtocol !== undefined && pkt.proto === m.notProtocol) return false;
  if (m.icmp && !icmpMatches(m, m.icmp, pkt)) return false;
  if (m.notIcmp && !notIcmpMatches(m, m.notIcmp, pkt)) return false;
  return entityMatches(ctx, m.src, pkt.src, pkt.sport) && entityMatches(ctx, m.dst, pkt.dst, pkt.dport);
}

function icmpMatches(m: FamilyMatch, icmp: IcmpMatch, pkt: Pkt): boolean {
  const proto = m.family === 6 || m.protocol === 58 ? 58 : 1;
  return pkt.proto === proto && pkt.icmpType === icmp.type && (icmp.code === undefined || pkt.icmpCode === icmp.code);
}

/** nftables semantics (render.ts): an ICMP packet of the rule's family that is not of this type (and code). */
function notIcmpMatches(m: FamilyMatch, icmp: IcmpMatch, pkt: Pkt): boolean {
  const proto = m.family === 6 || m.protocol === 58 ? 58 : 1;
  return pkt.proto === proto && !icmpMatches(m, icmp, pkt);
}

function entityMatches(ctx: Ctx, e: EntityMatch, address: Cidr, port: number | undefined): boolean {
  const { prepared } = ctx;
  const inNets = (nets: string[]) => prepared.inNets(nets, address);
  const inSet = (id: string) => prepared.inSet(id, address);
  const inPorts = (p: PortMatch) =>
    port !== undefined &&
    (p.ranges.some(([lo, hi]) => port >= lo && port <= hi) || (p.namedSet !== undefined && prepared.inPortSet(p.namedSet, ctx.pkt.proto, port, address)));
  if (e.nets && e.nets.length > 0 && !inNets(e.nets)) return false;
  if (e.notNets && inNets(e.notNets)) return false;
  if (e.set !== undefined && !inSet(e.set)) return false;
  if (e.notSet !== undefined && inSet(e.notSet)) return false;
  if (e.ports && !inPorts(e.ports)) return false;
  if (e.notPorts && inPorts(e.notPorts)) return false;
  return true;
}

function failsafeMatches(f: PreparedFailsafe, pkt: Pkt): boolean {
  if (protocolLabel(pkt.proto) !== f.protocol || (f.portOf === 'destination' ? pkt.dport : pkt.sport) !== f.port) return false;
  return f.peer === null || f.peer.has(f.netOf === 'source' ? pkt.src : pkt.dst);
}

function normalise(p: Packet): Pkt {
  let src: Cidr;
  let dst: Cidr;
  try {
    src = parseCidr(p.src);
    dst = parseCidr(p.dst);
  } catch (e) {
    throw new PacketError(`packet addresses must be plain IPv4/IPv6 addresses: ${(e as Error).message}`);
  }
  if (src.family !== dst.family) throw new PacketError(`source ${p.src} and destination ${p.dst} are of different address families`);
  let proto: number;
  try {
    proto = typeof p.proto === 'number' ? p.proto : parsePacketProtocol(p.proto);
  } catch (e) {
    throw new PacketError((e as Error).message);
  }
  return { family: src.family, proto, src, dst, sport: p.sport, dport: p.dport, icmpType: p.icmpType, icmpCode: p.icmpCode };
}
