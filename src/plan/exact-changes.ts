import type { Direction, EndpointProgram, EntityMatch, HostFacts, HostProgram } from '../compiler/ir.js';
import { stageKey, STAGE_KINDS } from '../compiler/ir.js';
import { boxText, describeBox, splitByProtocol } from '../headerspace/describe.js';
import { contextsOf, diffContext, FAMILIES, type DiffBox } from '../headerspace/diff.js';
import type { Context } from '../headerspace/evaluate.js';
import type { Step, Verdict } from '../simulator/index.js';
import type { DesiredState, SourceLocation } from '../state/desired-state.js';
import type { FieldLocator } from './locate.js';
import type { FlowChange } from './plan-report.js';

export interface RevisionView {
  state: DesiredState;
  program: HostProgram;
  locator: FieldLocator;
}

/**
 * Every flow whose verdict differs on one host between two revisions, exactly: the union of the
 * returned boxes is the set of packets (every interface, direction, forwarding path, family,
 * protocol, address, port, ICMP type and code) the two programs decide differently.
 */
export function hostChanges(facts: HostFacts, before: RevisionView, after: RevisionView): { changes: FlowChange[]; boxes: DiffBox[] } {
  const boxes: DiffBox[] = [];
  const programs = [before.program, after.program];
  for (const context of contextsOf(facts.interfaces.map((i) => i.name), programs)) {
    if (sameFor(context, before.program, after.program)) continue;
    for (const family of FAMILIES) boxes.push(...diffContext(before.program, after.program, context, family));
  }
  const changes = boxes.flatMap((d) => splitByProtocol(d.box).map((box) => flowChange(facts.node, { ...d, box }, before, after)));
  return { changes, boxes };
}

/** Opened: denied before, let through after; closed: the reverse; changed: allow ↔ not policed. */
export const changeKind = (before: Verdict, after: Verdict): FlowChange['change'] => (before === 'deny' ? 'opened' : after === 'deny' ? 'closed' : 'changed');

export function flowChange(host: string, d: DiffBox, before: RevisionView, after: RevisionView): FlowChange {
  const fields = describeBox(d.context, d.family, d.box);
  const at = culprit(host, d, before, after);
  const beforeReason = reason(d.beforeBy);
  const afterReason = reason(d.afterBy);
  return {
    ...fields,
    before: d.before,
    after: d.after,
    beforeReason,
    afterReason,
    change: changeKind(d.before, d.after),
    ...(at ? { at } : {}),
    text: `${host}, ${boxText(fields)}: ${d.before} (${beforeReason}) → ${d.after} (${afterReason})`,
  };
}

const MAX_REASONS = 3;
function reason(steps: readonly Step[]): string {
  const texts = [...new Set(steps.map((s) => s.text))];
  return texts.length > MAX_REASONS ? `${texts.slice(0, MAX_REASONS).join('; ')}; … (${texts.length} steps)` : texts.join('; ');
}

/** Equal views, equal verdicts for every packet of the context: no need to evaluate it. */
function sameFor(c: Context, before: HostProgram, after: HostProgram): boolean {
  const same = (iface: string, direction: Direction) => directionView(before, iface, direction) === directionView(after, iface, direction);
  return c.forwardTo === undefined ? same(c.iface, c.direction) : same(c.iface, 'ingress') && same(c.forwardTo, 'egress');
}

/**
 * Everything the walk reads for one interface and direction, as one string: the endpoint that
 * governs it, its stages, the chains and sets they reach, the failsafe list. Equal strings,
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
 * else what decides after the change (a rule, a policy's end of tier, a host endpoint), else
 * what decided before (a host endpoint that was removed).
 */
function culprit(host: string, d: DiffBox, before: RevisionView, after: RevisionView): SourceLocation | undefined {
  const direction = d.context.direction;
  const [was, now] = [d.beforeBy[0], d.afterBy[0]];
  if (!was || !now) return undefined;
  const isFailsafe = (s: Step) => s.text.startsWith('failsafe ');
  if (isFailsafe(was) !== isFailsafe(now)) return failsafeLocation(host, direction, after) ?? failsafeLocation(host, direction, before);
  // A rule that stopped deciding (edited, removed) is the cause, not the end of tier that decides now.
  if (now.rule === undefined && was.rule !== undefined) return stepLocation(was, after.locator) ?? stepLocation(was, before.locator);
  return stepLocation(now, after.locator) ?? stepLocation(was, before.locator);
}

/** The source line of a step: the rule, the policy at whose end of tier it stopped, the host endpoint. */
export function stepLocation(step: Step, locator: FieldLocator): SourceLocation | undefined {
  const direction = / (ingress|egress) rule \d+ /.exec(step.text)?.[1];
  if (step.policy !== undefined) return locator.locate(`GlobalNetworkPolicy/${step.policy}`, step.rule !== undefined && direction ? ['spec', direction, step.rule] : []);
  if (step.profile !== undefined) return locator.locate(`Profile/${step.profile}`, step.rule !== undefined && direction ? ['spec', direction, step.rule] : []);
  const endOfTier = /^policy (\S+), end of tier/.exec(step.text);
  if (endOfTier) return locator.locate(`GlobalNetworkPolicy/${endOfTier[1]}`);
  if (step.hep !== undefined) return locator.locate(`HostEndpoint/${step.hep}`);
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
