import type { CompileContext } from '../compiler/context.js';
import type { GlobalNetworkPolicy } from '../model/schemas.js';
import { parseSelector, type Labels, type Selector } from '../selector/index.js';
import type { ResourceChange } from './plan-report.js';
import { entitySelector } from '../compiler/entity-selector.js';

/**
 * The nodes whose program can differ between two revisions, found from what changed rather than
 * by compiling every host twice: a host is a candidate when one of its host endpoints changed,
 * when a changed policy selects it (before or after), when a policy that selects it has a rule
 * selector matching a changed endpoint or network set (its address set may change), or when a
 * fleet-wide resource (default FelixConfiguration, Tier, Profile) changed. A superset; the caller
 * compiles the candidates and keeps those whose program really differs.
 */
export function candidateNodes(base: CompileContext, head: CompileContext, changes: readonly ResourceChange[], nodes: readonly string[]): string[] {
  const out = new Set<string>();
  const changedPolicies = new Set<string>();
  const changedEntities: Labels[] = [];
  const labelsOf = (ctx: CompileContext, kind: string, name: string): Labels[] =>
    ctx.selectables.filter((s) => s.kind === kind && s.name === name).map((s) => s.labels);
  for (const c of changes) {
    switch (c.kind) {
      case 'FelixConfiguration':
        if (c.name === 'default') return [...nodes];
        if (c.name.startsWith('node.')) out.add(c.name.slice('node.'.length));
        break;
      case 'Tier':
      case 'Profile':
        return [...nodes];
      case 'HostEndpoint':
        for (const ctx of [base, head]) ctx.state.hostEndpoints.filter((h) => h.metadata.name === c.name).forEach((h) => out.add(h.spec.node));
        changedEntities.push(...labelsOf(base, 'HostEndpoint', c.name), ...labelsOf(head, 'HostEndpoint', c.name));
        break;
      case 'GlobalNetworkSet':
        changedEntities.push(...labelsOf(base, 'GlobalNetworkSet', c.name), ...labelsOf(head, 'GlobalNetworkSet', c.name));
        break;
      case 'GlobalNetworkPolicy':
        changedPolicies.add(c.name);
        break;
    }
  }
  for (const ctx of [base, head]) {
    for (const p of ctx.state.policies) {
      if (changedPolicies.has(p.metadata.name) || (changedEntities.length > 0 && referencesAny(ctx, p, changedEntities))) {
        for (const node of selectedNodes(ctx, p)) out.add(node);
      }
    }
  }
  return nodes.filter((n) => out.has(n));
}

/** Whether a rule selector of the policy matches any of the label sets. */
function referencesAny(ctx: CompileContext, p: GlobalNetworkPolicy, entities: readonly Labels[]): boolean {
  const selectors = [...p.spec.ingress, ...p.spec.egress].flatMap((r) => [r.source, r.destination]).flatMap((e) => [entitySelector(e), e.notSelector]).filter((s): s is string => !!s);
  return selectors.some((text) => {
    const sel = ctx.selector(text);
    return entities.some((labels) => sel.matches(labels));
  });
}

function selectedNodes(ctx: CompileContext, p: GlobalNetworkPolicy): string[] {
  return ctx.state.hostEndpoints.filter((h) => ctx.policiesFor(h).includes(p)).map((h) => h.spec.node);
}

/** Policy → the host endpoints it applies to, evaluating each selector once per distinct label set. */
export function appliedPolicies(ctx: CompileContext): Map<string, string[]> {
  const byLabels = new Map<string, string[]>();
  for (const hep of ctx.state.hostEndpoints) {
    const key = JSON.stringify(Object.entries(ctx.hepLabels.get(hep.metadata.name) ?? {}).sort());
    byLabels.set(key, [...(byLabels.get(key) ?? []), hep.metadata.name]);
  }
  const groups = [...byLabels.values()].map((heps) => ({ heps, labels: ctx.hepLabels.get(heps[0]!) ?? {} }));
  const parsed = new Map<string, Selector>();
  return new Map(
    ctx.state.policies.map((p) => {
      if (p.spec.namespaceSelector !== undefined || p.spec.serviceAccountSelector !== undefined) return [p.metadata.name, []];
      let sel = parsed.get(p.spec.selector);
      if (!sel) parsed.set(p.spec.selector, (sel = parseSelector(p.spec.selector)));
      const s = sel;
      return [p.metadata.name, groups.filter((g) => s.matches(g.labels)).flatMap((g) => g.heps)];
    }),
  );
}
