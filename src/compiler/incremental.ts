import type { EntityRule, GlobalNetworkPolicy, HostEndpoint, Rule } from '../model/schemas.js';
import { resourceKey, type DesiredState } from '../state/desired-state.js';
import { compileHostIn } from './compile.js';
import { CompileCache } from './cache.js';
import { contentKey } from './content-key.js';
import { CompileContext, type Selectable } from './context.js';
import type { HostFacts, HostProgram } from './ir.js';

type Keyed = { kind: string; metadata: { name: string } };

function index(state: DesiredState): Map<string, string> {
  const all: Keyed[] = [...state.policies, ...state.hostEndpoints, ...state.networkSets, ...state.profiles, ...state.tiers, ...state.felixConfigs];
  return new Map(all.map((r) => [resourceKey(r as Parameters<typeof resourceKey>[0]), contentKey(r)]));
}

/** One desired state with what change detection needs from it, kept by `IncrementalCompiler` for the next change. */
interface Revision {
  ctx: CompileContext;
  index: Map<string, string>;
}

const revisionOf = (ctx: CompileContext): Revision => ({ ctx, index: index(ctx.state) });

const entities = (rule: Rule): EntityRule[] => [rule.source, rule.destination];
/** A rule's peer selectors, `all()` standing in for named ports looked up without a selector. */
function ruleSelectors(p: GlobalNetworkPolicy): string[] {
  const out: string[] = [];
  for (const rule of [...p.spec.ingress, ...p.spec.egress]) {
    for (const e of entities(rule)) {
      if (e.selector !== undefined) out.push(e.selector);
      if (e.notSelector !== undefined) out.push(e.notSelector);
      if (e.selector === undefined && e.notSelector === undefined && [...e.ports, ...e.notPorts].some((x) => x.kind === 'named')) out.push('all()');
    }
  }
  return out;
}

/**
 * Which hosts a change between two desired states can affect: the nodes of changed host
 * endpoints, the nodes a changed policy selects (before or after), and the nodes whose policies'
 * address sets contain a changed endpoint or network set. Tier and default Felix changes affect all.
 */
export function affectedNodes(before: DesiredState, after: DesiredState, nodes: readonly string[]): Set<string> {
  const cache = new CompileCache();
  return affectedBetween(revisionOf(new CompileContext(before, cache)), revisionOf(new CompileContext(after, cache)), nodes);
}

function affectedBetween(before: Revision, after: Revision, nodes: readonly string[]): Set<string> {
  const a = before.index;
  const b = after.index;
  const changed = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k));
  const out = new Set<string>();
  if (changed.some((k) => k.startsWith('Tier/') || k === 'FelixConfiguration/default')) return new Set(nodes);

  const ctxs = [before.ctx, after.ctx];
  const changedEntities: { ctx: CompileContext; e: Selectable }[] = [];
  const changedPolicies = new Set<string>();
  for (const key of changed) {
    const [kind, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    if (kind === 'FelixConfiguration' && name.startsWith('node.')) out.add(name.slice(5));
    if (kind === 'GlobalNetworkPolicy') changedPolicies.add(name);
    for (const ctx of ctxs) {
      for (const e of ctx.selectables) {
        const listsProfile = kind === 'Profile' && e.hep?.spec.profiles.includes(name);
        if ((e.kind === kind && e.name === name) || listsProfile) changedEntities.push({ ctx, e });
      }
    }
  }
  for (const { e } of changedEntities) if (e.hep) out.add(e.hep.spec.node);

  for (const ctx of ctxs) {
    const nodesOf = (p: GlobalNetworkPolicy) => {
      const sel = ctx.selector(p.spec.selector);
      return ctx.state.hostEndpoints.filter((h: HostEndpoint) => sel.matches(ctx.hepLabels.get(h.metadata.name) ?? {})).map((h) => h.spec.node);
    };
    for (const p of ctx.state.policies) {
      const touches =
        changedPolicies.has(p.metadata.name) ||
        (changedEntities.length > 0 && ruleSelectors(p).some((s) => changedEntities.some(({ ctx: c, e }) => c.selector(s).matches(e.labels))));
      if (touches) nodesOf(p).forEach((n) => out.add(n));
    }
  }
  return new Set(nodes.filter((n) => out.has(n)));
}

/** Keeps every host's program and recompiles only the hosts a new desired state affects. */
export class IncrementalCompiler {
  private revision: Revision | undefined;
  /** Outlives revisions: an unchanged policy's rules, selectors and selections are reused. */
  private readonly cache = new CompileCache();
  private readonly programs = new Map<string, HostProgram>();
  /** Hosts compiled by the last `update`, for logs and for the test that counts them. */
  lastRecompiled: string[] = [];

  constructor(private readonly hosts: readonly HostFacts[]) {}

  update(next: DesiredState): ReadonlyMap<string, HostProgram> {
    const nodes = this.hosts.map((h) => h.node);
    this.cache.rotate();
    const revision = revisionOf(new CompileContext(next, this.cache));
    const todo = this.revision ? affectedBetween(this.revision, revision, nodes) : new Set(nodes);
    for (const host of this.hosts) if (todo.has(host.node)) this.programs.set(host.node, compileHostIn(revision.ctx, host));
    this.revision = revision;
    this.lastRecompiled = nodes.filter((n) => todo.has(n));
    return this.programs;
  }
}
