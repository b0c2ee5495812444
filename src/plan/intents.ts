import { LineCounter, parseDocument } from 'yaml';
import type { Family, HostFacts, HostProgram } from '../compiler/ir.js';
import { parsePacketProtocol } from '../compiler/protocols.js';
import { boxWith, DPORT, DST, ICMP_CODE, ICMP_TYPE, intersect, PROTO, SPORT, SRC, universe, type Region } from '../headerspace/box.js';
import { FAMILIES } from '../headerspace/diff.js';
import { evaluateRegion, type Context } from '../headerspace/evaluate.js';
import * as iv from '../headerspace/intervals.js';
import type { IntervalSet } from '../headerspace/intervals.js';
import { netsToIntervals } from '../headerspace/match.js';
import { samplePacket } from '../headerspace/packet.js';
import type { IntentSpec } from '../rollout/rollout-config.js';
import { parseSelector } from '../selector/index.js';
import { formatVerdict, simulate } from '../simulator/index.js';
import type { DesiredState, SourceLocation } from '../state/desired-state.js';
import { stepLocation } from './exact-changes.js';
import type { FieldLocator } from './locate.js';
import type { IntentResult } from './plan-report.js';

export interface IntentSide {
  state: DesiredState;
  programOf(node: string): HostProgram;
  /** The interfaces the plan assumes the node has. */
  factsOf(node: string): HostFacts;
  locator: FieldLocator;
}

/**
 * Proves each intent on every host it selects, over every packet of its box (the simulator's
 * verdict for each of them, computed symbolically): `allow` holds when no packet of the box is
 * denied, `deny` when every packet is. A violation names one packet of the box that breaks it.
 */
export function proveIntents(intents: readonly IntentSpec[], head: IntentSide, base: IntentSide | null, where: (i: number) => SourceLocation | undefined): { results: IntentResult[]; unmatched: string[] } {
  const results: IntentResult[] = [];
  const unmatched: string[] = [];
  intents.forEach((intent, i) => {
    const heps = selectedEndpoints(intent, head.state);
    if (heps.size === 0) unmatched.push(intent.name);
    const nodes = [...new Set(head.state.hostEndpoints.filter((h) => heps.has(h.metadata.name)).map((h) => h.spec.node))].sort();
    const at = where(i);
    for (const node of nodes) {
      const hostFacts = head.factsOf(node);
      const now = prove(intent, head.programOf(node), hostFacts, heps);
      const baseHeps = base ? selectedEndpoints(intent, base.state) : new Set<string>();
      const then = base && base.state.hostEndpoints.some((h) => h.spec.node === node && baseHeps.has(h.metadata.name)) ? prove(intent, base.programOf(node), hostFacts, baseHeps) : undefined;
      const result: IntentResult = { intent: intent.name, host: node, expect: intent.expect, holds: now === null, heldBefore: then === undefined ? null : then === null, ...(at ? { at } : {}) };
      if (now) {
        const sim = simulate(head.programOf(node), now.packet);
        const loc = stepLocation(sim.path[sim.path.length - 1] ?? { stage: 'dispatch', text: '' }, head.locator);
        result.counterexample = { packet: now.packet, verdict: sim.verdict, reason: formatVerdict(sim), ...(loc ? { at: loc } : {}) };
      }
      results.push(result);
    }
  });
  return { results, unmatched };
}

function selectedEndpoints(intent: IntentSpec, state: DesiredState): Set<string> {
  const selector = parseSelector(intent.hosts);
  return new Set(state.hostEndpoints.filter((h) => selector.matches(h.metadata.labels)).map((h) => h.metadata.name));
}

/** `null` when the intent holds on the program; otherwise one violating packet. */
function prove(intent: IntentSpec, program: HostProgram, hostFacts: HostFacts, heps: ReadonlySet<string>): { packet: ReturnType<typeof samplePacket> } | null {
  const ifaces = program.interfaces
    .filter((b) => b.role === 'hep' && b.hep !== undefined && heps.has(b.hep))
    .map((b) => b.iface)
    .filter((name) => (intent.interface !== undefined ? name === intent.interface : name !== 'lo'));
  for (const iface of ifaces) {
    const context: Context = { iface, direction: intent.direction };
    for (const family of FAMILIES) {
      const region = intentRegion(intent, family);
      if (region.length === 0) continue;
      for (const piece of evaluateRegion(program, context, family, region)) {
        const wrong = intent.expect === 'allow' ? piece.verdict === 'deny' : piece.verdict !== 'deny';
        if (!wrong || piece.region.length === 0) continue;
        const own = hostFacts.interfaces.find((i) => i.name === iface)?.addresses.map((a) => a.split('/')[0]!) ?? [];
        return { packet: samplePacket(context, family, piece.region[0]!, intent.direction === 'ingress' ? { dst: own } : { src: own }) };
      }
    }
  }
  return null;
}

const portSet = (ports: readonly (number | string)[]): IntervalSet =>
  iv.fromIntervals(
    ports.map((p) => {
      const [lo, hi] = typeof p === 'number' ? [p, p] : p.split(':').map(Number);
      return [BigInt(lo!), BigInt(hi!)] as const;
    }),
  );

/** The intent's packets of one family (empty when its networks are all of the other family). */
export function intentRegion(intent: IntentSpec, family: Family): Region {
  const dims: Record<number, IntervalSet> = {};
  if (intent.protocol !== undefined) dims[PROTO] = iv.point(BigInt(typeof intent.protocol === 'number' ? intent.protocol : parsePacketProtocol(intent.protocol)));
  if (intent.from) dims[SRC] = netsToIntervals(intent.from, family);
  if (intent.to) dims[DST] = netsToIntervals(intent.to, family);
  if (intent.srcPorts) dims[SPORT] = portSet(intent.srcPorts);
  if (intent.dstPorts) dims[DPORT] = portSet(intent.dstPorts);
  if (intent.icmpType !== undefined) dims[ICMP_TYPE] = iv.point(BigInt(intent.icmpType));
  if (intent.icmpCode !== undefined) dims[ICMP_CODE] = iv.point(BigInt(intent.icmpCode));
  if (Object.values(dims).some((d) => d.length === 0)) return [];
  return intersect(universe(family), [boxWith(family, dims)]);
}

/** Where each intent is in palisade.yaml (`intents[i]`), for the report. */
export function intentLocator(file: string, text: string | undefined): (i: number) => SourceLocation | undefined {
  if (text === undefined) return () => undefined;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return (i) => {
    const node = doc.getIn(['intents', i], true) as { range?: [number, number, number] } | undefined;
    if (!node?.range) return undefined;
    const pos = lineCounter.linePos(node.range[0]);
    return { file, line: pos.line, col: pos.col };
  };
}
