import { fieldPath } from '../model/errors.js';
import { editScript } from './line-diff.js';
import { resourceToInput } from '../model/print.js';
import type { Located } from '../model/repository-rules.js';
import { resourceKey } from '../state/desired-state.js';
import type { FieldChange, ResourceChange } from './plan-report.js';

/**
 * Added, removed and changed resources between two revisions, changed ones field by field. Fields
 * are compared in the form an operator writes (ports as `22` or `"1000:2000"`), after Calico's
 * defaults, so spelling out a default is no change.
 */
export function diffResources(base: readonly Located[], head: readonly Located[]): ResourceChange[] {
  const before = new Map(base.map((l) => [resourceKey(l.resource), l]));
  const changes: ResourceChange[] = [];
  for (const l of head) {
    const key = resourceKey(l.resource);
    const old = before.get(key);
    before.delete(key);
    const id = { kind: l.resource.kind, name: l.resource.metadata.name, at: l.source };
    if (!old) changes.push({ ...id, change: 'added', fields: [] });
    else if (JSON.stringify(old.resource) !== JSON.stringify(l.resource)) {
      const fields = diffValues(resourceToInput(old.resource), resourceToInput(l.resource), []);
      if (fields.length > 0) changes.push({ ...id, change: 'changed', fields });
    }
  }
  for (const l of before.values()) changes.push({ kind: l.resource.kind, name: l.resource.metadata.name, at: l.source, change: 'removed', fields: [] });
  return changes.sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name));
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
