import { stageKey, type HostProgram } from '../compiler/ir.js';
import { protocolLabel } from '../compiler/protocols.js';
import { formatElement } from '../net/cidr.js';
import { prepareProgram, simulate, type Packet, type Simulation, type Step } from '../simulator/index.js';
import { addressesOf } from './describe.js';
import { DIMS, NONE, SPORT, type Box } from './box.js';
import * as iv from './intervals.js';
import { matchSpace } from './match.js';
import { packetPoint } from './packet.js';

/** What would let a denied packet through: an Allow rule and the fields of the packet it would need. */
export interface SmallestChange {
  /** `policy web ingress rule 1 (Allow)`. */
  rule: string;
  policy?: string;
  profile?: string;
  index: number;
  /** The packet's fields that would have to differ, with values the rule accepts (empty: it already matches). */
  differ: { field: string; now: string; would: string }[];
  /** The step that decides the packet now (the rule or end of tier in the way). */
  decidedBy: Step;
  /** One sentence. */
  text: string;
}

const FIELD_NAMES: Record<string, string> = { protocol: 'protocol', src: 'source', dst: 'destination', srcPort: 'source port', dstPort: 'destination port', icmpType: 'ICMP type', icmpCode: 'ICMP code' };

/**
 * For a denied packet, the Allow rule (of the policies and profiles its endpoint applies) that
 * needs the fewest of the packet's fields to change to let it through, verified by simulating
 * the changed packet. An Allow rule that matches already but is reached too late (a Deny or an
 * end of tier decides first) is the smallest change of all: nothing about the packet, only the
 * order or the rule in the way.
 */
export function smallestChange(program: HostProgram, packet: Packet, sim: Simulation = simulate(program, packet)): SmallestChange | null {
  if (sim.verdict !== 'deny') return null;
  const decidedBy = sim.path[sim.path.length - 1]!;
  const { family, point } = packetPoint(packet);
  const space = matchSpace(program, family);
  // The chains the packet's endpoint applies in this direction, in order.
  const ep = prepareProgram(program).endpointFor(packet.iface, false);
  const sp = ep?.stages[stageKey('normal', packet.direction)];
  const ids = sp ? [...sp.tiers.flatMap((t) => t.policies), ...sp.profiles] : [];
  const chains = ids.flatMap((id) => program.chains.filter((c) => c.id === id));
  let best: SmallestChange | null = null;
  for (const chain of chains) {
    for (const rule of chain.rules) {
      if (rule.action !== 'allow') continue;
      for (const box of space.rule(rule)) {
        const dims = box.map((d, i) => i).filter((i) => !iv.has(box[i]!, point[i]!));
        if (best && dims.length >= best.differ.length) continue;
        const changed = changedPacket(packet, family, point, box, dims);
        if (!changed) continue;
        // Changing the packet must really let it through: an earlier Deny may still catch it.
        if (dims.length > 0 && simulate(program, changed).verdict === 'deny') continue;
        const who = chain.kind === 'policy' ? `policy ${chain.name}` : `profile ${chain.name}`;
        const name = `${who} ${chain.direction} rule ${rule.index} (Allow)`;
        const differ = dims.map((i) => ({ field: FIELD_NAMES[DIMS[i]!]!, now: fieldText(i, packet), would: valuesText(i, box[i]!, family) }));
        const text =
          differ.length === 0
            ? `${name} matches this packet, but ${decidedBy.text} decides first: move the Allow before it, or narrow what is in the way`
            : `${name} would allow it if ${differ.map((d) => `the ${d.field} were ${d.would} (not ${d.now})`).join(' and ')}; or widen that rule to include it`;
        best = { rule: name, ...(chain.kind === 'policy' ? { policy: chain.name } : { profile: chain.name }), index: rule.index, differ, decidedBy, text };
        if (dims.length === 0) return best;
      }
    }
  }
  return best;
}

function changedPacket(packet: Packet, family: 4 | 6, point: readonly bigint[], box: Box, dims: number[]): Packet | null {
  const p: Packet = { ...packet };
  for (const i of dims) {
    const v = box[i]![0]! === NONE ? (box[i]!.length > 2 ? box[i]![2]! : NONE) : box[i]![0]!;
    if (v === NONE) return null;
    const value = i === SPORT && iv.has(box[i]!, point[i]!) ? point[i]! : v;
    switch (DIMS[i]) {
      case 'protocol':
        p.proto = Number(value);
        break;
      case 'src':
      case 'dst': {
        const lo = box[i]![0]!;
        const hi = box[i]![1]!;
        const address = addressText(family, hi > lo ? lo + 1n : lo);
        if (DIMS[i] === 'src') p.src = address;
        else p.dst = address;
        break;
      }
      case 'srcPort':
        p.sport = Number(value);
        break;
      case 'dstPort':
        p.dport = Number(value);
        break;
      case 'icmpType':
        p.icmpType = Number(value);
        break;
      case 'icmpCode':
        p.icmpCode = Number(value);
        break;
    }
  }
  return p;
}

const addressText = (family: 4 | 6, v: bigint) => formatElement({ family, base: v, prefix: family === 4 ? 32 : 128 });

function fieldText(i: number, p: Packet): string {
  const v = [p.proto, p.src, p.dst, p.sport, p.dport, p.icmpType, p.icmpCode][i];
  return v === undefined ? 'none' : i === 0 && typeof v === 'number' ? protocolLabel(v) : String(v);
}

function valuesText(i: number, s: iv.IntervalSet, family: 4 | 6): string {
  if (DIMS[i] === 'src' || DIMS[i] === 'dst') {
    const a = addressesOf(family, s);
    return `in ${a.nets.join(', ')}${a.notNets ? ` except ${a.notNets.join(', ')}` : ''}`;
  }
  const ranges = iv.pairs(iv.subtract(s, iv.point(NONE))).map(([lo, hi]) => (i === 0 ? (lo === hi ? protocolLabel(Number(lo)) : `${lo}-${hi}`) : lo === hi ? `${lo}` : `${lo}-${hi}`));
  return ranges.length === 1 ? ranges[0]! : `one of ${ranges.join(', ')}`;
}
