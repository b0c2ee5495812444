import { stageKey, type CompiledRule, type Direction, type EndpointProgram, type Family, type HostProgram, type RuleChain, type StageKind } from '../compiler/ir.js';
import { prepareProgram, type PreparedProgram, type Step, type Verdict } from '../simulator/index.js';
import { intersect, isEmptyRegion, split, universe, type Box, type Region } from './box.js';
import { matchSpace, type MatchSpace } from './match.js';

/**
 * Symbolic evaluation of a host program: the simulator's walk (raw, mangle, filter input/output/
 * forward; failsafes, tiers, Pass, end of tier, profiles, default drop) over every packet of a
 * header space at once. The result partitions the space into pieces, each with the verdict the
 * simulator gives every packet in it and the step that decides it.
 */

/** Where packets meet the program: an interface and direction, or a forwarding path. */
export interface Context {
  iface: string;
  direction: Direction;
  /** Forwarded packets (direction ingress) leaving by this interface. */
  forwardTo?: string;
}

export interface Piece {
  verdict: Verdict;
  /** The deciding step, worded as the simulator words it. */
  by: Step;
  region: Box[];
}

/** A rule of the walk, with whether any packet reaches it and, if none does, what takes them first. */
export interface RuleVisit {
  chain: RuleChain;
  rule: CompiledRule;
  stage: StageKind;
  hep: string;
  /** Some packet the rule matches reaches it. */
  reached: boolean;
  /** The rule matches some packet of the space at all (false: it can never match, whatever comes before). */
  matchable: boolean;
  /** When matchable and not reached: the earlier steps that decide (or divert) what it matches. */
  blockers: Step[];
}

export interface EvaluateOptions {
  onRule?: (visit: RuleVisit) => void;
}

interface Taken {
  region: Box[];
  by: Step;
}

interface Walk {
  space: MatchSpace;
  prepared: PreparedProgram;
  start: Region;
  onRule: ((v: RuleVisit) => void) | undefined;
  /** What left the walk for good (decided) and, scoped, what skipped ahead (Pass, a failsafe in raw/mangle). */
  finals: Taken[];
  scoped: Taken[];
}

interface StageResult {
  decided: Piece[];
  none: Box[];
}

export function evaluate(program: HostProgram, context: Context, family: Family, opts: EvaluateOptions = {}): Piece[] {
  return evaluateRegion(program, context, family, universe(family), opts);
}

/** `evaluate` over part of the space only (e.g. one intent's box). */
export function evaluateRegion(program: HostProgram, context: Context, family: Family, start: Region, opts: EvaluateOptions = {}): Piece[] {
  const prepared = prepareProgram(program);
  const walk: Walk = { space: matchSpace(program, family), prepared, start, onRule: opts.onRule, finals: [], scoped: [] };
  const out: Piece[] = [];
  const decide = (pieces: Piece[]) => {
    for (const p of pieces) {
      if (p.region.length > 0) out.push(p);
    }
  };
  const dispatch = (text: string): Step => ({ stage: 'dispatch', text });
  let rest: Box[] = [...start];

  const early: [StageKind, Direction][] = context.direction === 'ingress' ? [['untracked', 'ingress'], ['prednat', 'ingress']] : [['untracked', 'egress']];
  for (const [stage, direction] of early) {
    // Pre-DNAT dispatch has no workload exclusion: the `*` HEP's policy meets workload traffic too.
    const ep = stage === 'prednat' && prepared.isWorkload(context.iface) ? prepared.wildcardEndpoint() : prepared.endpointFor(context.iface, stage === 'untracked');
    if (!ep || !ep.stages[stageKey(stage, direction)]) continue;
    const r = runStage(walk, rest, ep, stage, direction);
    decide(r.decided);
    rest = r.none;
  }

  if (context.forwardTo !== undefined) {
    let allowed: Piece[] = [];
    let open = rest;
    for (const [iface, direction] of [[context.iface, 'ingress'], [context.forwardTo, 'egress']] as const) {
      if (prepared.isWorkload(iface)) continue;
      const ep = prepared.endpointFor(iface, false);
      if (!ep?.stages[stageKey('forward', direction)]) continue;
      const next: Piece[] = [];
      for (const p of allowed) {
        const r = runStage(walk, p.region, ep, 'forward', direction);
        decide(r.decided.filter((d) => d.verdict === 'deny'));
        next.push(...r.decided.filter((d) => d.verdict === 'allow'), { ...p, region: r.none });
      }
      const r = runStage(walk, open, ep, 'forward', direction);
      decide(r.decided.filter((d) => d.verdict === 'deny'));
      next.push(...r.decided.filter((d) => d.verdict === 'allow'));
      open = r.none;
      allowed = next.filter((p) => p.region.length > 0);
    }
    decide(allowed);
    decide([{ verdict: 'no-policy', by: dispatch('no applyOnForward policy decided'), region: open }]);
    return out;
  }

  if (prepared.isWorkload(context.iface)) {
    if (context.direction === 'egress') {
      decide([{ verdict: 'no-policy', by: dispatch(`host to workload interface ${context.iface} is not host-endpoint policy`), region: rest }]);
      return out;
    }
    const action = program.defaultEndpointToHostAction;
    decide([{ verdict: action === 'Drop' ? 'deny' : action === 'Accept' ? 'allow' : 'no-policy', by: dispatch(`defaultEndpointToHostAction ${action} for workload interface ${context.iface}`), region: rest }]);
    return out;
  }
  const ep = prepared.endpointFor(context.iface, false);
  if (!ep) {
    const excluded = program.interfaces.some((b) => b.iface === context.iface && b.role === 'excluded');
    decide([{ verdict: 'no-policy', by: dispatch(excluded ? `interface ${context.iface} is in interfaceExclude: Felix does not police it` : `interface ${context.iface} has no host endpoint`), region: rest }]);
    return out;
  }
  const r = runStage(walk, rest, ep, 'normal', context.direction);
  decide(r.decided);
  decide([{ verdict: 'deny', by: { stage: 'normal', hep: ep.hep, text: 'no policy decided: default drop' }, region: r.none }]);
  return out;
}

function runStage(walk: Walk, input: Box[], ep: EndpointProgram, stage: StageKind, direction: Direction): StageResult {
  const sp = ep.stages[stageKey(stage, direction)];
  if (!sp || input.length === 0) return { decided: [], none: input };
  const at = (text: string, extra: Partial<Step> = {}): Step => ({ stage, hep: ep.hep, text, ...extra });
  const decided: Piece[] = [];
  const none: Box[] = [];
  const scopeMark = walk.scoped.length;
  let rest = input;
  if (stage !== 'forward') {
    for (const f of walk.prepared.failsafe[stage === 'untracked' ? 'raw' : 'filter'][direction]) {
      const { inside, outside } = split(rest, walk.space.failsafe(f));
      if (inside.length === 0) continue;
      const by = at(`failsafe ${f.protocol}/${f.port}${f.net ? ` ${f.net}` : ''}${f.portOf === 'source' ? ' (reply, by source port)' : ''}`);
      // In raw and mangle a failsafe only ends that stage; filter still sees the packet.
      if (stage === 'normal') decided.push({ verdict: 'allow', by, region: inside });
      else {
        none.push(...inside);
        if (walk.onRule) walk.scoped.push({ region: inside, by });
      }
      rest = outside;
    }
    if (walk.onRule) walk.finals.push(...decided);
  }
  // A forward stage's Allow is not final: the other side's forward policy still sees the packet.
  const final = (p: Piece) => stage !== 'forward' || p.verdict === 'deny';
  const decide = (p: Piece) => {
    if (p.region.length === 0) return;
    decided.push(p);
    if (walk.onRule && final(p)) walk.finals.push(p);
  };
  for (const tier of sp.tiers) {
    const tierMark = walk.scoped.length;
    let cur = rest;
    let passed: Box[] = [];
    let last = '';
    for (const id of tier.policies) {
      const chain = walk.prepared.chain(id);
      if (!chain) continue;
      last = chain.name;
      const r = runChain(walk, cur, chain, ep, stage, at, tier.name);
      r.decided.forEach(decide);
      for (const p of r.passed) {
        passed = [...passed, ...p.region];
        if (walk.onRule) walk.scoped.push(p);
      }
      cur = r.rest;
    }
    walk.scoped.length = tierMark;
    if (tier.endOfTier === 'drop') {
      decide({ verdict: 'deny', by: at(`${last ? `policy ${last}, ` : ''}end of tier ${tier.name}`, { tier: tier.name }), region: cur });
      rest = passed;
    } else rest = [...passed, ...cur];
  }
  for (const id of sp.profiles) {
    const chain = walk.prepared.chain(id);
    if (!chain) continue;
    const chainMark = walk.scoped.length;
    const r = runChain(walk, rest, chain, ep, stage, at);
    r.decided.forEach(decide);
    walk.scoped.length = chainMark;
    // A Pass in a profile ends that profile only; the next profile still sees the packet.
    rest = [...r.rest, ...r.passed.flatMap((p) => p.region)];
  }
  walk.scoped.length = scopeMark;
  if (sp.final === 'drop') {
    decide({ verdict: 'deny', by: at(sp.tiers.length + sp.profiles.length === 0 ? `HostEndpoint ${ep.hep} has no ${direction} policy or profile: default drop` : `no policy or profile allowed: default drop`), region: rest });
    return { decided, none };
  }
  return { decided, none: [...none, ...rest] };
}

const ACTION_TEXT = { allow: 'Allow', deny: 'Deny', pass: 'Pass', log: 'Log' } as const;

function runChain(
  walk: Walk,
  input: Box[],
  chain: RuleChain,
  ep: EndpointProgram,
  stage: StageKind,
  at: (text: string, extra?: Partial<Step>) => Step,
  tier?: string,
): { decided: Piece[]; passed: Piece[]; rest: Box[] } {
  const who = chain.kind === 'policy' ? `policy ${chain.name}` : `profile ${chain.name}`;
  const ref = chain.kind === 'policy' ? { policy: chain.name, tier } : { profile: chain.name };
  const decided: Piece[] = [];
  const passed: Piece[] = [];
  const pushed: ('finals' | 'scoped')[] = [];
  let rest = input;
  for (const rule of chain.rules) {
    const match = walk.space.rule(rule);
    const { inside, outside } = rest.length > 0 && match.length > 0 ? split(rest, match) : { inside: [], outside: rest };
    if (walk.onRule) visit(walk, chain, rule, stage, ep, match, inside.length > 0);
    if (inside.length === 0) continue;
    const by = at(`${who} ${chain.direction} rule ${rule.index} (${ACTION_TEXT[rule.action]})`, { ...ref, rule: rule.index });
    if (rule.action === 'log') continue;
    if (rule.action === 'pass') passed.push({ verdict: 'no-policy', by, region: inside });
    else decided.push({ verdict: rule.action, by, region: inside });
    rest = outside;
    // Pushed for the later rules of this chain only: the caller files them for what follows.
    if (walk.onRule) (rule.action === 'pass' ? walk.scoped : walk.finals).push({ region: inside, by });
    if (walk.onRule) pushed.push(rule.action === 'pass' ? 'scoped' : 'finals');
  }
  for (const list of pushed) walk[list].pop();
  return { decided, passed, rest };
}

function visit(walk: Walk, chain: RuleChain, rule: CompiledRule, stage: StageKind, ep: EndpointProgram, match: Region, reached: boolean): void {
  const reachable = reached ? match : intersect(walk.start, match);
  const matchable = !isEmptyRegion(reachable);
  const blockers: Step[] = [];
  if (matchable && !reached) {
    const seen = new Set<string>();
    for (const t of [...walk.finals, ...walk.scoped]) {
      if (intersect(t.region, reachable).length === 0) continue;
      const k = JSON.stringify(t.by);
      if (!seen.has(k)) {
        seen.add(k);
        blockers.push(t.by);
      }
    }
  }
  walk.onRule!({ chain, rule, stage, hep: ep.hep, reached, matchable, blockers });
}
