import type { Family, HostFacts } from '../compiler/ir.js';
import { boxWith, DPORT, DST, ICMP_CODE, ICMP_TYPE, intersectBox, PROTO, SRC, type Box } from '../headerspace/box.js';
import type { DiffBox } from '../headerspace/diff.js';
import { evaluateRegion } from '../headerspace/evaluate.js';
import * as iv from '../headerspace/intervals.js';
import type { IntervalSet } from '../headerspace/intervals.js';
import { netsToIntervals } from '../headerspace/match.js';
import type { DesiredState } from '../state/desired-state.js';
import type { CheckNeed } from './check-needs.js';
import { flowChange, type RevisionView } from './exact-changes.js';
import type { Danger } from './plan-report.js';

const MANAGEMENT = /manag|mgmt|admin|bastion|jump/i;

/** Networks named as management: `--management-net`, and GlobalNetworkSets whose name or labels say so. */
export function managementNets(states: readonly DesiredState[], extra: readonly string[]): string[] {
  const out = new Set(extra);
  for (const state of states) {
    for (const set of state.networkSets) {
      const named = [set.metadata.name, ...Object.entries(set.metadata.labels).flat()].some((s) => MANAGEMENT.test(s));
      if (named) set.spec.nets.forEach((n) => out.add(n));
    }
  }
  return [...out];
}

/** The host's own addresses (loopback aside). */
export function hostAddresses(facts: HostFacts): string[] {
  return facts.interfaces.filter((i) => i.name !== 'lo').flatMap((i) => i.addresses.map((a) => a.split('/')[0]!));
}

/**
 * The packets a check sends through one family of a host: from the management network (from
 * anywhere when none is known: the controller could be anywhere) to the host's addresses for a
 * controller check; from the host to the target (any target when it is a name) for a host check.
 */
export function needBox(need: CheckNeed, family: Family, facts: HostFacts, management: readonly string[]): Box | null {
  const dims: Record<number, IntervalSet> = { [PROTO]: iv.point(BigInt(need.service.proto)) };
  if (need.service.port !== undefined) dims[DPORT] = iv.point(BigInt(need.service.port));
  if (need.service.icmpType !== undefined) {
    if (family !== 4) return null;
    dims[ICMP_TYPE] = iv.point(BigInt(need.service.icmpType));
    dims[ICMP_CODE] = iv.point(0n);
  }
  const own = netsToIntervals(hostAddresses(facts), family);
  if (need.direction === 'ingress') {
    if (management.length > 0) dims[SRC] = netsToIntervals(management, family);
    if (own.length > 0) dims[DST] = own;
  } else if (need.target !== undefined) dims[DST] = netsToIntervals([need.target], family);
  if (Object.values(dims).some((d) => d.length === 0)) return null;
  return boxWith(family, dims);
}

/**
 * DANGER: the exact difference takes away part of a path a rollout check needs (or opens part of
 * one a check expects closed). The rollout would fail that check on the canary and roll back, or
 * worse, the operator loses the way in.
 */
export function findDangers(facts: HostFacts, boxes: readonly DiffBox[], needs: readonly CheckNeed[], management: readonly string[], before: RevisionView, after: RevisionView): Danger[] {
  const dangers: Danger[] = [];
  const seen = new Set<string>();
  for (const need of needs) {
    for (const d of boxes) {
      const c = d.context;
      if (c.forwardTo !== undefined || c.direction !== need.direction || c.iface === 'lo' || c.iface.endsWith('*')) continue;
      const loses = need.expect === 'open' ? d.before !== 'deny' && d.after === 'deny' : d.before === 'deny' && d.after !== 'deny';
      if (!loses) continue;
      const path = needBox(need, d.family, facts, management);
      const part = path && intersectBox(d.box, path);
      if (!part) continue;
      const key = `${need.name}|${c.iface}|${d.family}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const why =
        need.expect === 'open'
          ? `check ${need.name} (${need.describe}) needs this path; the rollout would fail it and stop${need.direction === 'ingress' ? ', and the host may be unreachable for its operators' : ''}`
          : `check ${need.name} (${need.describe}) expects this path closed; the change opens it`;
      // The steps that decide this part only, not the whole box it was cut from.
      const by = (view: RevisionView) => evaluateRegion(view.program, c, d.family, [part]).map((p) => p.by);
      dangers.push({ host: facts.node, check: need.name, why, change: flowChange(facts.node, { ...d, box: part, beforeBy: by(before), afterBy: by(after) }, before, after) });
    }
  }
  return dangers;
}
