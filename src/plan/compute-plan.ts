import { CompileContext } from '../compiler/context.js';
import { compileHostIn } from '../compiler/compile.js';
import type { HostFacts, HostProgram } from '../compiler/ir.js';
import { renderNft } from '../dataplane/index.js';
import type { ModelErrorRecord } from '../eventlog/events.js';
import { candidateNodes } from './affected-hosts.js';
import { ROLLOUT_CONFIG_FILE } from '../rollout/rollout-config.js';
import { checkNeeds } from './check-needs.js';
import { nodesOf, planFacts } from './host-facts.js';
import { unifiedDiff } from './line-diff.js';
import { lintRevision, type Finding } from './lints.js';
import { FieldLocator } from './locate.js';
import { hostChanges } from './exact-changes.js';
import { intentLocator, proveIntents } from './intents.js';
import { findDangers, managementNets } from './lockout.js';
import { PLAN_FORMAT, type Danger, type FlowChange, type HostPlan, type Lint, type PlanReport, type Problem } from './plan-report.js';
import { describeResourceChanges } from './resource-diff.js';
import { loadRevision, type LoadedRevision, type RevisionFiles } from './revision.js';
import { previewRollout } from './rollout-preview.js';

export interface PlanOptions {
  /** Extra management networks (CIDRs), besides GlobalNetworkSets named or labelled as such. */
  managementNets?: readonly string[];
}

/**
 * The whole plan for a change from `base` to `head`, from file contents alone: validation,
 * resource diff, per-host programs and ruleset diff, the exact difference of every affected host
 * (header-space boxes), dangers decided on it, intents proven, lints and the rollout preview.
 * Pure; the CLI reads the files from Git.
 */
export function computePlan(baseFiles: RevisionFiles, headFiles: RevisionFiles, opts: PlanOptions = {}): PlanReport {
  const head = loadRevision(headFiles);
  // A broken base is planned from what validates in it: that is closest to what hosts run.
  const base = loadRevision(baseFiles, { skipInvalid: true });
  const errors: ModelErrorRecord[] = head.repository.errors;
  const refs = { base: revisionRef(base), head: revisionRef(head) };
  if (errors.length > 0 || !head.repository.rollout) {
    // Nothing is computed from a head that does not validate: a refused file (a symlink, a YAML
    // bomb) would otherwise show up as its resources removed.
    return {
      format: PLAN_FORMAT,
      ...refs,
      outcome: 'invalid',
      errors,
      warnings: head.repository.warnings,
      summary: { resourcesChanged: 0, hostsAffected: 0, connectionsOpened: 0, connectionsClosed: 0, flowsChanged: 0, dangers: 0, intentsViolated: 0, lints: 0, newLints: 0 },
      resources: [],
      hosts: [],
      dangers: [],
      intents: [],
      lints: [],
      rollout: null,
    };
  }

  const resources = describeResourceChanges(base.repository.resources, head.repository.resources);
  const nodes = nodesOf(base.state, head.state);
  const facts = new Map(nodes.map((n) => [n, planFacts(n, base.state, head.state)]));
  const baseSide = side(base, facts);
  const headSide = side(head, facts);
  const affected = candidateNodes(baseSide.ctx, headSide.ctx, resources, nodes).filter((n) => JSON.stringify(baseSide.programOf(n)) !== JSON.stringify(headSide.programOf(n)));

  const management = managementNets([base.state, head.state], opts.managementNets ?? []);
  const needs = checkNeeds(head.repository.rollout.checks);
  const hosts: HostPlan[] = [];
  const dangers: Danger[] = [];
  for (const node of affected) {
    const before = { state: base.state, program: baseSide.programOf(node), locator: baseSide.locator };
    const after = { state: head.state, program: headSide.programOf(node), locator: headSide.locator };
    const hostFacts = facts.get(node)!;
    const { changes, boxes } = hostChanges(hostFacts, before, after);
    dangers.push(...findDangers(hostFacts, boxes, needs, management, before, after));
    hosts.push(hostPlan(node, before.program, after.program, changes));
  }

  const configPath = headFiles.configPath ?? ROLLOUT_CONFIG_FILE;
  const intents = proveIntents(head.repository.rollout.intents, headSide, base.repository.rollout ? baseSide : null, intentLocator(configPath, head.texts.get(configPath)));
  const warnings: Problem[] = [
    ...head.repository.warnings,
    ...intents.unmatched.map((name) => ({ code: 'INTENT_SELECTS_NOTHING', file: configPath, line: 1, col: 1, kind: 'RolloutConfig', field: 'intents', message: `intent ${name} selects no host endpoint: nothing to prove` })),
  ];
  const violated = intents.results.filter((r) => !r.holds).length;

  const lints = newLints(lintRevision({ ...headSide, facts, management }), lintRevision({ ...baseSide, facts, management }));
  const affectedSet = new Set(affected);
  const all = hosts.flatMap((h) => h.changes);
  return {
    format: PLAN_FORMAT,
    ...refs,
    outcome: violated > 0 ? 'violated' : dangers.length > 0 ? 'dangerous' : 'fine',
    errors: [],
    warnings,
    summary: {
      resourcesChanged: resources.length,
      hostsAffected: affected.length,
      connectionsOpened: all.filter((c) => c.change === 'opened').length,
      connectionsClosed: all.filter((c) => c.change === 'closed').length,
      flowsChanged: all.length,
      dangers: dangers.length,
      intentsViolated: violated,
      lints: lints.length,
      newLints: lints.filter((l) => l.new).length,
    },
    resources,
    hosts,
    dangers,
    intents: intents.results,
    lints,
    rollout: { waves: previewRollout(head.repository.rollout, head.state, nodesOf(head.state), affectedSet) },
  };
}

const revisionRef = (r: LoadedRevision) => ({ ref: r.ref, ...(r.commit ? { commit: r.commit } : {}) });

/** One revision's compile context, its programs compiled on first use, and its field locator. */
function side(rev: LoadedRevision, facts: ReadonlyMap<string, HostFacts>) {
  const ctx = new CompileContext(rev.state);
  const programs = new Map<string, HostProgram>();
  const factsOf = (node: string): HostFacts => facts.get(node) ?? { node, interfaces: [] };
  const programOf = (node: string): HostProgram => {
    let p = programs.get(node);
    if (!p) programs.set(node, (p = compileHostIn(ctx, factsOf(node))));
    return p;
  };
  return { ctx, state: rev.state, programOf, factsOf, locator: new FieldLocator(rev) };
}

function hostPlan(host: string, before: HostProgram, after: HostProgram, changes: FlowChange[]): HostPlan {
  const endpoints = (p: HostProgram) => p.endpoints.map((e) => `${e.hep} (${e.interfaces.join(', ')})`);
  const policies = (p: HostProgram) => [...new Set(p.chains.map((c) => (c.kind === 'policy' ? c.name : `profile ${c.name}`)))].sort();
  const had = before.endpoints.length > 0;
  const has = after.endpoints.length > 0;
  return {
    host,
    complete: true,
    change: had && has ? 'changed' : has ? 'added' : had ? 'removed' : 'changed',
    endpoints: { before: endpoints(before), after: endpoints(after) },
    policies: { before: policies(before), after: policies(after) },
    rulesetDiff: unifiedDiff(render(before), render(after)),
    opened: changes.filter((c) => c.change === 'opened').length,
    closed: changes.filter((c) => c.change === 'closed').length,
    changes,
  };
}

function render(p: HostProgram): string {
  try {
    return renderNft(p);
  } catch (e) {
    return `# cannot render: ${(e as Error).message}\n`;
  }
}

/**
 * Head lints, each marked new unless the base has as many findings of the same code on the same
 * resource field (messages and lines may shift with unrelated edits).
 */
function newLints(head: readonly Finding[], base: readonly Finding[]): Lint[] {
  const key = (f: Finding) => `${f.code}|${f.kind}/${f.name}|${f.field ?? ''}`;
  const old = new Map<string, number>();
  for (const f of base) old.set(key(f), (old.get(key(f)) ?? 0) + 1);
  const marked = head.map((f) => {
    const left = old.get(key(f)) ?? 0;
    old.set(key(f), left - 1);
    return { ...f, new: left <= 0 };
  });
  return marked.sort((a, b) => Number(b.new) - Number(a.new));
}
