import { packetText, summaryLine } from './format-text.js';
import type { Location, PlanReport } from './plan-report.js';

// GitHub's workflow-command escaping: data escapes %, CR, LF; properties also : and ,.
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

function annotation(level: 'error' | 'warning' | 'notice', at: Location | undefined, title: string, message: string): string {
  const props = [...(at ? [`file=${escapeProperty(at.file)}`, `line=${at.line}`, `col=${at.col}`] : []), `title=${escapeProperty(title)}`];
  return `::${level} ${props.join(',')}::${escapeData(message)}`;
}

/**
 * Workflow annotations on the lines at fault: validation errors and dangers as errors, lints as
 * warnings, violated intents as errors, flow changes as notices; then the summary as plain output.
 */
export function formatGithub(p: PlanReport): string {
  const lines = [
    ...p.errors.map((e) => annotation('error', e, e.kind ? (e.name ? `${e.kind}/${e.name}` : e.kind) : 'palisade', e.field ? `${e.field}: ${e.message}` : e.message)),
    ...p.dangers.map((d) => annotation('error', d.change.at, `DANGER: check ${d.check}`, `${d.change.text}\n${d.why}`)),
    ...p.lints.map((l) => annotation('warning', l, `palisade lint ${l.code}`, `${l.kind}/${l.name}: ${l.message}\nWhy: ${l.why}\nFix: ${l.fix}`)),
    ...p.intents
      .filter((r) => !r.holds)
      .map((r) => annotation('error', r.at, `intent ${r.intent} violated`, `${r.intent} does not hold on ${r.host} (expect ${r.expect})${r.counterexample ? `: ${packetText(r.counterexample.packet)}: ${r.counterexample.reason}` : ''}`)),
    ...p.hosts.flatMap((h) => h.changes).map((c) => annotation('notice', c.at, `flows ${c.change}`, c.text)),
    `palisade plan: ${p.outcome}: ${summaryLine(p)}`,
  ];
  return `${lines.join('\n')}\n`;
}
