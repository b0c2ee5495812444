import type { FieldChange, Location, PlanReport, Problem, ResourceChange } from './plan-report.js';

/** Shared wording for the text and markdown renderings. */

export const where = (l: Location): string => `${l.file}:${l.line}:${l.col}`;

export const formatProblem = (e: Problem): string =>
  [where(e), e.kind ? (e.name ? `${e.kind}/${e.name}` : e.kind) : undefined, e.field, e.message].filter((x) => x !== undefined).join(': ');

const value = (v: unknown): string => (v === undefined ? '(none)' : JSON.stringify(v));

export const formatField = (f: FieldChange): string =>
  f.before === undefined ? `${f.path}: + ${value(f.after)}` : f.after === undefined ? `${f.path}: - ${value(f.before)}` : `${f.path}: ${value(f.before)} → ${value(f.after)}`;

export const CHANGE_MARK: Record<ResourceChange['change'], string> = { added: '+', removed: '-', changed: '~' };

export const revisionText = (r: PlanReport['base']): string => (r.commit ? `${r.ref} (${r.commit.slice(0, 12)})` : r.ref);

export function summaryLine(p: PlanReport): string {
  const s = p.summary;
  const n = (k: number, one: string, many = `${one}s`) => `${k} ${k === 1 ? one : many}`;
  return [
    n(s.resourcesChanged, 'resource changed', 'resources changed'),
    n(s.hostsAffected, 'host affected', 'hosts affected'),
    n(s.connectionsOpened, 'connection opened', 'connections opened'),
    n(s.connectionsClosed, 'connection closed', 'connections closed'),
    n(s.dangers, 'danger'),
    `${n(s.lints, 'lint')} (${s.newLints} new)`,
  ].join(', ');
}

export const OUTCOME_TEXT: Record<PlanReport['outcome'], string> = {
  fine: 'fine',
  invalid: 'INVALID: the head revision does not validate',
  dangerous: 'DANGEROUS: the change closes a path a check needs',
};

/** The plan for a terminal: everything, ruleset diffs included. */
export function formatText(p: PlanReport): string {
  const out: string[] = [`Plan ${revisionText(p.base)} → ${revisionText(p.head)}: ${OUTCOME_TEXT[p.outcome]}`, summaryLine(p), ''];
  const section = (title: string, lines: string[]) => {
    if (lines.length > 0) out.push(title, ...lines, '');
  };
  section(`Validation errors (${p.errors.length})`, p.errors.map((e) => `  ${formatProblem(e)}`));
  section(`DANGER (${p.dangers.length})`, p.dangers.flatMap((d) => [`  DANGER ${d.change.text}`, `    ${d.why}`, ...(d.change.at ? [`    at ${where(d.change.at)}`] : [])]));
  section(
    `Resource changes (${p.resources.length})`,
    p.resources.flatMap((r) => [`  ${CHANGE_MARK[r.change]} ${r.kind}/${r.name} (${where(r.at)})`, ...r.fields.map((f) => `      ${formatField(f)}`)]),
  );
  section(
    `Reachability changes (${p.reachability.length})`,
    p.reachability.flatMap((r) => [`  ${r.change.padEnd(6)} ${r.text}${r.at ? `  [${where(r.at)}]` : ''}`, ...(r.equivalentPeers.length > 0 ? [`         also from/to: ${r.equivalentPeers.join(', ')}`] : [])]),
  );
  section(
    `Hosts (${p.hosts.length})`,
    p.hosts.flatMap((h) => [
      `  ${h.host} (${h.change}): ${h.opened} opened, ${h.closed} closed`,
      `    host endpoints: ${listChange(h.endpoints)}`,
      `    policies:       ${listChange(h.policies)}`,
      ...(h.rulesetDiff ? h.rulesetDiff.split('\n').map((l) => `      ${l}`) : []),
    ]),
  );
  section(
    `Lints (${p.lints.length}, ${p.summary.newLints} new)`,
    p.lints.flatMap((l) => [`  ${where(l)}: warning[${l.code}]${l.new ? ' (new)' : ''}: ${l.kind}/${l.name}: ${l.message}`, `      why: ${l.why}`, `      fix: ${l.fix}`]),
  );
  section(`Validation warnings (${p.warnings.length})`, p.warnings.map((w) => `  ${formatProblem(w)}`));
  if (p.rollout) section('Rollout', p.rollout.waves.map((w) => `  ${w.name}: ${w.hosts.join(', ')}${w.affected.length < w.hosts.length ? ` (ruleset changes on ${w.affected.length > 0 ? w.affected.join(', ') : 'none'})` : ''}`));
  return `${out.join('\n').trimEnd()}\n`;
}

export function listChange({ before, after }: { before: string[]; after: string[] }): string {
  const same = JSON.stringify(before) === JSON.stringify(after);
  const show = (l: string[]) => (l.length > 0 ? l.join(', ') : '(none)');
  return same ? show(after) : `${show(before)} → ${show(after)}`;
}
