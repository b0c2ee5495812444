import type { Located } from '../model/repository-rules.js';
import { resourceKey } from './desired-state.js';

/** One resource that differs between two revisions. */
export interface ResourceDelta {
  /** `Kind/name`. */
  key: string;
  change: 'added' | 'removed' | 'modified';
  before?: Located;
  after?: Located;
}

/** JSON with object keys sorted: two resources are the same exactly when these strings are. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    return `{${entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * The one resource diff: added, removed and modified resources between what was (a revision's
 * resources, or the reconciler's current ones by key) and a revision, compared in their
 * validated, defaulted form, so spelling out a default or reordering keys is no change. The
 * reconciler records it as ResourcesChanged; the plan shows it field by field. Order: `next`'s,
 * then the removed ones.
 */
export function diffResources(current: Iterable<Located> | ReadonlyMap<string, Located>, next: readonly Located[]): ResourceDelta[] {
  const before = current instanceof Map ? new Map(current) : new Map([...(current as Iterable<Located>)].map((l) => [resourceKey(l.resource), l]));
  const out: ResourceDelta[] = [];
  for (const l of next) {
    const key = resourceKey(l.resource);
    const old = before.get(key);
    before.delete(key);
    if (!old) out.push({ key, change: 'added', after: l });
    else if (canonical(old.resource) !== canonical(l.resource)) out.push({ key, change: 'modified', before: old, after: l });
  }
  for (const [key, old] of before) out.push({ key, change: 'removed', before: old });
  return out;
}
