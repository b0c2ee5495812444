import { z } from 'zod';

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration as milliseconds (number) or text such as `500ms`, `30s`, `2m`, `1h`; output in ms. */
export const Duration = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'a duration is a number of milliseconds or text like 500ms, 30s, 2m, 1h')
    .transform((text) => {
      const [, value, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)!;
      return Math.round(Number(value) * UNIT_MS[unit as keyof typeof UNIT_MS]);
    }),
]);
