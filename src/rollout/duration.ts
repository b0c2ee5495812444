import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const TEXT = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const HINT = 'a duration is a whole number of milliseconds or text like 500ms, 30s, 2m, 1h';

/**
 * The one duration syntax, for palisade.yaml and every time flag of the CLI: `500ms`, `30s`,
 * `2m`, `1h` (decimals allowed), or a whole number of milliseconds. Null when it is neither.
 */
export function parseDuration(text: string): number | null {
  if (/^\d+$/.test(text)) return Number(text);
  const m = TEXT.exec(text);
  return m ? Math.round(Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]) : null;
}

/** A duration as milliseconds (number) or text such as `500ms`, `30s`, `2m`, `1h`; output in ms. */
export const Duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0) return value;
  } else {
    const ms = parseDuration(value);
    if (ms !== null) return ms;
  }
  ctx.addIssue({ code: 'custom', message: `${HINT}, got ${JSON.stringify(value)}` });
  return z.NEVER;
});
