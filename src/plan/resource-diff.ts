import { fieldPath } from '../model/errors.js';
import { editScript } from './line-diff.js';
import { resourceToInput } from '../model/print.js';
import type { Located } from '../model/repository-rules.js';
import { diffResources } from '../state/resource-diff.js';
import type { FieldChange, ResourceChange } from './plan-report.js';

/**
 * The resource diff (src/state/resource-diff.ts), field by field for modified resources: fields
 * are shown in the form an operator writes (ports as `22` or `"1000:2000"`).
 */
export function describeResourceChanges(base: readonly Located[], head: readonly Located[]): ResourceChange[] {
  return diffResources(base, head)
    .map((d): ResourceChange => {
      const l = (d.after ?? d.before)!;
      const id = { kind: l.resource.kind, name: l.resource.metadata.name, at: l.source };
      if (d.change === 'added') return { ...id, change: 'added', fields: [] };
      if (d.change === 'removed') return { ...id, change: 'removed', fields: [] };
      return { ...id, change: 'changed', fields: diffValues(resourceToInput(d.before!.resource), resourceToInput(d.after!.resource), []) };
    })
    .sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name));
}

/**
 * Lists of objects (rules, failsafe entries) aligned by content, so removing the first entry
 * shows as one removal, not as every later entry changing. A removal directly followed by an
 * addition is an edit of that element, diffed field by field.
 */
function diffLists(a: unknown[], b: unknown[], path: (string | number)[]): FieldChange[] {
  const ops = editScript(a.map((v) => JSON.stringify(v)), b.map((v) => JSON.stringify(v)));
  if (!ops) return [{ path: fieldPath(path), before: a, after: b }];
  const out: FieldChange[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; k < ops.length; k++) {
    const op = ops[k]!;
    if (op.kind === ' ') {
      i++;
      j++;
    } else if (op.kind === '-' && ops[k + 1]?.kind === '+') {
      out.push(...diffValues(a[i], b[j], [...path, j]));
      i++;
      j++;
      k++;
    } else if (op.kind === '-') out.push({ path: fieldPath([...path, i++]), before: a[i - 1] });
    else out.push({ path: fieldPath([...path, j++]), after: b[j - 1] });
  }
  return out;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects key by key; lists element by element (a rule inserted shows as the rules after it changing). */
function diffValues(a: unknown, b: unknown, path: (string | number)[]): FieldChange[] {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => diffValues(a[k], b[k], [...path, k]));
  }
  // Scalar lists (ports, nets, types) read best whole; lists of objects element by element.
  if (Array.isArray(a) && Array.isArray(b) && [...a, ...b].some((v) => typeof v === 'object' && v !== null)) return diffLists(a, b, path);
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const change: FieldChange = { path: fieldPath(path) };
  if (a !== undefined) change.before = a;
  if (b !== undefined) change.after = b;
  return [change];
}
