import type { Family, HostProgram } from '../compiler/ir.js';
import type { Step, Verdict } from '../simulator/index.js';
import { coalesce, intersect, type Box } from './box.js';
import { evaluate, type Context, type Piece } from './evaluate.js';

/** A part of one context's header space whose verdict differs between two programs. */
export interface DiffBox {
  context: Context;
  family: Family;
  box: Box;
  before: Verdict;
  after: Verdict;
  /** The steps that decide the packets of the box, before and after (most boxes have one each). */
  beforeBy: Step[];
  afterBy: Step[];
}

export const FAMILIES: readonly Family[] = [4, 6];

/** Stands for every interface the host facts do not name (the `*` host endpoint governs those). */
export const OTHER_INTERFACE = '*';

/**
 * Every context a packet can meet a host in: each known interface both ways, any other interface
 * (the `*` host endpoint), the workload interfaces of each prefix (`cali*`), and every forwarding
 * path between them when a program has applyOnForward policy.
 */
export function contextsOf(interfaces: readonly string[], programs: readonly HostProgram[]): Context[] {
  // Workload interfaces all behave alike (only the prefix matters): one context per prefix.
  const workload = (iface: string) => programs.every((p) => p.workloadPrefixes.some((w) => iface.startsWith(w)));
  const names = interfaces.filter((i) => !workload(i));
  // Also without a `*` host endpoint: a forwarded packet may leave by an interface no endpoint governs.
  names.push(OTHER_INTERFACE);
  for (const prefix of new Set(programs.flatMap((p) => p.workloadPrefixes))) names.push(`${prefix}*`);
  const out: Context[] = names.flatMap((iface) => [
    { iface, direction: 'ingress' as const },
    { iface, direction: 'egress' as const },
  ]);
  // Without raw, mangle or forward stages every forwarded packet is unpoliced in every program.
  const forwards = programs.some((p) => p.endpoints.some((e) => (['forward-ingress', 'forward-egress', 'untracked-ingress', 'prednat-ingress'] as const).some((k) => e.stages[k])));
  if (forwards) for (const a of names) for (const b of names) out.push({ iface: a, direction: 'ingress', forwardTo: b });
  return out;
}

/**
 * The exact difference of two programs in one context and family: every packet whose verdict
 * differs lies in exactly one returned box, and no other packet does.
 */
export function diffContext(before: HostProgram, after: HostProgram, context: Context, family: Family): DiffBox[] {
  const b = evaluate(before, context, family);
  const a = evaluate(after, context, family);
  // Grouped by verdicts only, so e.g. every failsafe port that closes is one box, not one per port.
  const groups = new Map<string, { before: Verdict; after: Verdict; boxes: Box[]; pb: Piece[]; pa: Piece[] }>();
  for (const pb of b) {
    for (const pa of a) {
      if (pb.verdict === pa.verdict) continue;
      const boxes = intersect(pb.region, pa.region);
      if (boxes.length === 0) continue;
      const k = `${pb.verdict}|${pa.verdict}`;
      const g = groups.get(k) ?? { before: pb.verdict, after: pa.verdict, boxes: [], pb: [], pa: [] };
      g.boxes.push(...boxes);
      if (!g.pb.includes(pb)) g.pb.push(pb);
      if (!g.pa.includes(pa)) g.pa.push(pa);
      groups.set(k, g);
    }
  }
  const out: DiffBox[] = [];
  for (const g of groups.values()) {
    for (const box of coalesce(g.boxes)) {
      const by = (pieces: Piece[]) => pieces.filter((p) => intersect(p.region, [box]).length > 0).map((p) => p.by);
      out.push({ context, family, box, before: g.before, after: g.after, beforeBy: by(g.pb), afterBy: by(g.pa) });
    }
  }
  return out;
}
