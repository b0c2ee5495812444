import { protocolLabel } from '../compiler/protocols.js';
import type { FieldChange, IntentResult, Location, PlanReport, Problem, ResourceChange, SamplePacket } from './plan-report.js';

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
    n(s.flowsChanged, 'flow box changed', 'flow boxes changed'),
    `${s.connectionsOpened} opened, ${s.connectionsClosed} closed`,
    n(s.dangers, 'danger'),
    n(s.intentsViolated, 'intent violated', 'intents violated'),
    `${n(s.lints, 'lint')} (${s.newLints} new)`,
  ].join(', ');
}

export const OUTCOME_TEXT: Record<PlanReport['outcome'], string> = {
  fine: 'fine',
  invalid: 'INVALID: the head revision does not validate',
  violated: 'VIOLATED: an intent does not hold',
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
  section(`Intents (${p.intents.length}, ${p.summary.intentsViolated} violated)`, p.intents.flatMap(intentLines));
  section(
    `Flow changes (${p.summary.flowsChanged}, exact: nothing outside these boxes changes)`,
    p.hosts.flatMap((h) => h.changes.map((c) => `  ${c.change.padEnd(7)} ${c.text}${c.at ? `  [${where(c.at)}]` : ''}`)),
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

export const packetText = (p: SamplePacket): string =>
  `${p.direction} ${p.iface}${p.forwardTo ? ` → ${p.forwardTo}` : ''} ${typeof p.proto === 'number' ? protocolLabel(p.proto) : p.proto} ${p.src}${p.sport !== undefined ? `:${p.sport}` : ''} → ${p.dst}${p.dport !== undefined ? `:${p.dport}` : ''}${p.icmpType !== undefined ? ` type ${p.icmpType} code ${p.icmpCode ?? 0}` : ''}`;

export function intentLines(r: IntentResult): string[] {
  const then = r.heldBefore === false && r.holds ? ' (newly holds)' : r.heldBefore === true && !r.holds ? ' (held before)' : '';
  const head = `  ${r.holds ? 'holds   ' : 'VIOLATED'} ${r.intent} on ${r.host} (expect ${r.expect})${then}${r.at ? `  [${where(r.at)}]` : ''}`;
  if (!r.counterexample) return [head];
  const c = r.counterexample;
  return [head, `      counterexample: ${packetText(c.packet)}: ${c.reason}${c.at ? `  [${where(c.at)}]` : ''}`];
}

export function listChange({ before, after }: { before: string[]; after: string[] }): string {
  const same = JSON.stringify(before) === JSON.stringify(after);
  const show = (l: string[]) => (l.length > 0 ? l.join(', ') : '(none)');
  return same ? show(after) : `${show(before)} → ${show(after)}`;
}
