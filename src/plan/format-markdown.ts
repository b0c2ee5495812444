import { CHANGE_MARK, formatField, formatProblem, intentLines, listChange, OUTCOME_TEXT, revisionText, where } from './format-text.js';
import type { PlanReport } from './plan-report.js';

/** GitHub rejects issue comments longer than this many characters. */
export const GITHUB_COMMENT_LIMIT = 65_536;
/** The hidden line that marks Palisade's comment, so a new plan updates it instead of adding one. */
export const COMMENT_MARKER = '<!-- palisade-plan -->';

export interface MarkdownOptions {
  /** Default: GitHub's comment limit, less a margin for the marker. */
  limit?: number;
  /** Where the full plan is when this one had to be shortened. */
  fullPlan?: string;
}

/**
 * Levels of detail, tried from the richest: a plan that does not fit loses ruleset diffs first,
 * then the long lists are cut, then everything but the summary and the dangers.
 */
const LEVELS = [
  { diffs: true, items: Infinity, details: true },
  { diffs: false, items: 300, details: true },
  { diffs: false, items: 50, details: true },
  { diffs: false, items: 10, details: true },
  { diffs: false, items: 10, details: false },
] as const;

/** The plan as a pull-request comment: summary table first, details folded, under the size limit. */
export function formatMarkdown(p: PlanReport, opts: MarkdownOptions = {}): string {
  const limit = opts.limit ?? GITHUB_COMMENT_LIMIT - 1_000;
  const fullPlan = opts.fullPlan ?? 'the `palisade-plan` workflow artifact (plan.json)';
  let text = '';
  for (const [i, level] of LEVELS.entries()) {
    text = render(p, level, i > 0 ? fullPlan : undefined);
    if (text.length <= limit) return text;
  }
  // Even the summary is too long (thousands of dangers): cut at a line boundary.
  const cut = text.lastIndexOf('\n', limit - 200);
  return `${text.slice(0, Math.max(0, cut))}\n\n…cut to fit GitHub's comment limit; the full plan is in ${fullPlan}.\n${COMMENT_MARKER}\n`;
}

type Level = (typeof LEVELS)[number];

// Text from the repository goes into code spans and blocks; backticks would end them early.
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const block = (lines: string[], lang = 'text') => ['```' + lang, ...lines.map((l) => l.replace(/```/g, "'''")), '```'];

function render(p: PlanReport, level: Level, truncatedHint: string | undefined): string {
  const s = p.summary;
  const icon = p.outcome === 'fine' ? '✅' : p.outcome === 'invalid' ? '❌' : '⛔';
  const out: string[] = [
    COMMENT_MARKER,
    `## Palisade plan: ${code(revisionText(p.base))} → ${code(revisionText(p.head))}`,
    '',
    `${icon} **${OUTCOME_TEXT[p.outcome]}**`,
    '',
    '| hosts affected | flow boxes changed | opened | closed | dangers | intents violated | lints (new) | resources changed |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    `| ${s.hostsAffected} | ${s.flowsChanged} | ${s.connectionsOpened} | ${s.connectionsClosed} | ${s.dangers} | ${s.intentsViolated} | ${s.lints} (${s.newLints}) | ${s.resourcesChanged} |`,
    '',
  ];
  if (truncatedHint) out.push(`> Shortened to fit GitHub's comment limit. The full plan is in ${truncatedHint}.`, '');
  const cap = <T>(list: readonly T[]): { shown: readonly T[]; more: string[] } =>
    list.length > level.items ? { shown: list.slice(0, level.items), more: [`…and ${list.length - level.items} more (see the full plan)`] } : { shown: list, more: [] };

  if (p.errors.length > 0) {
    const { shown, more } = cap(p.errors);
    out.push(`### ❌ Validation errors (${p.errors.length})`, '', ...block([...shown.map(formatProblem), ...more]), '');
  }
  if (p.dangers.length > 0) {
    const { shown, more } = cap(p.dangers);
    out.push(`### ⛔ Dangers (${p.dangers.length})`, '', ...shown.map((d) => `- **DANGER** ${code(d.change.text)}${d.change.at ? ` at ${code(where(d.change.at))}` : ''}<br>${d.why}`), ...more.map((m) => `- ${m}`), '');
  }
  if (!level.details) return finish(out);

  const details = (summary: string, body: string[]) => out.push('<details>', `<summary>${summary}</summary>`, '', ...body, '', '</details>', '');
  const violated = p.intents.filter((r) => !r.holds);
  if (violated.length > 0) {
    const { shown, more } = cap(violated);
    out.push(`### ⛔ Intents violated (${violated.length})`, '', ...block([...shown.flatMap(intentLines), ...more]), '');
  }
  if (p.intents.length > violated.length) {
    const { shown, more } = cap(p.intents.filter((r) => r.holds));
    details(`Intents proven: ${p.intents.length - violated.length}`, block([...shown.flatMap(intentLines), ...more]));
  }
  const flows = p.hosts.flatMap((h) => h.changes);
  if (flows.length > 0) {
    const { shown, more } = cap(flows);
    details(
      `Flow changes: ${s.connectionsOpened} opened, ${s.connectionsClosed} closed, ${s.flowsChanged} in all (exact)`,
      block([...shown.map((c) => `${c.change === 'opened' ? '+' : c.change === 'closed' ? '-' : '!'} ${c.text}${c.at ? `  [${where(c.at)}]` : ''}`), ...more], 'diff'),
    );
  }
  if (p.lints.length > 0) {
    const { shown, more } = cap(p.lints);
    details(`Lints: ${p.lints.length} (${s.newLints} new)`, [
      ...shown.map((l) => `- ${l.new ? '🆕 ' : ''}${code(where(l))} **${l.code}** ${l.kind}/${l.name}: ${l.message}<br>_Why:_ ${l.why}<br>_Fix:_ ${l.fix}`),
      ...more.map((m) => `- ${m}`),
    ]);
  }
  if (p.resources.length > 0) {
    const { shown, more } = cap(p.resources);
    details(`Resource changes: ${p.resources.length}`, block([...shown.flatMap((r) => [`${CHANGE_MARK[r.change]} ${r.kind}/${r.name} (${where(r.at)})`, ...r.fields.slice(0, level.items).map((f) => `    ${formatField(f)}`)]), ...more]));
  }
  if (p.hosts.length > 0) {
    const { shown, more } = cap(p.hosts);
    const body = shown.flatMap((h) => {
      const head = [`**${h.host}** (${h.change}): ${h.opened} opened, ${h.closed} closed<br>host endpoints: ${listChange(h.endpoints)}<br>policies: ${listChange(h.policies)}`];
      if (!level.diffs || !h.rulesetDiff) return [...head, ''];
      return [...head, '', '<details><summary>ruleset diff</summary>', '', ...block(h.rulesetDiff.split('\n'), 'diff'), '', '</details>', ''];
    });
    details(`Hosts: ${p.hosts.length}${level.diffs ? '' : ' (ruleset diffs omitted)'}`, [...body, ...more]);
  }
  if (p.rollout) {
    details('Rollout preview', ['| wave | hosts | ruleset changes on |', '|---|---|---|', ...p.rollout.waves.map((w) => `| ${w.name} | ${capNames(w.hosts, level)} | ${capNames(w.affected, level)} |`)]);
  }
  if (p.warnings.length > 0) {
    const { shown, more } = cap(p.warnings);
    details(`Validation warnings: ${p.warnings.length}`, block([...shown.map(formatProblem), ...more]));
  }
  return finish(out);
}

const capNames = (names: readonly string[], level: Level) =>
  names.length === 0 ? '—' : names.length > level.items ? `${names.slice(0, level.items).join(', ')} and ${names.length - level.items} more` : names.join(', ');

const finish = (out: string[]) => `${out.join('\n').trimEnd()}\n`;
