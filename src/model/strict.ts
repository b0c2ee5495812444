import { z } from 'zod';

/** Edit distance, to suggest the field an operator probably meant. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function unknownFieldReason(key: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: distance(key, k) }))
    .filter(({ k, d }) => d <= Math.max(1, Math.floor(k.length / 3)))
    .sort((x, y) => x.d - y.d)[0];
  return `unknown field "${key}"${best ? ` (did you mean "${best.k}"?)` : ''}`;
}

/**
 * The message separator for `unrecognized_keys` issues: zod raises one issue for all unknown keys
 * of an object, the loader reports one error per key at the key's own line, so the per-key
 * reasons travel together in the message, in the order of `issue.keys`.
 */
export const UNKNOWN_KEYS_SEPARATOR = '\n';

/** A strict object whose unknown keys are reported by name, with a suggestion for typos. */
export function strictObject<S extends z.core.$ZodLooseShape>(shape: S) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' ? issue.keys.map((k) => unknownFieldReason(k, known)).join(UNKNOWN_KEYS_SEPARATOR) : undefined,
  });
}
