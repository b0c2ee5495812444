import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { syncDir } from '../eventlog/segment.js';
import type { NotifyFold } from './notifications.js';

/**
 * Where one provider is in the event log, and the fold up to there, in one fsync'd file per
 * provider (replaced with a rename, so a crash leaves the old position or the new one). The
 * position moves past an event only after its notification was delivered: a crash repeats at
 * most the one in flight.
 */
export const Position = z.object({
  version: z.literal(1),
  /** Every event up to here is handled (delivered, dropped as refused, or not for this provider). */
  seq: z.number().int().nonnegative(),
  /** Events up to here predate this provider: folded, never sent. */
  silentUntil: z.number().int().nonnegative(),
  fold: z.object({
    open: z.record(
      z.string(),
      z.object({
        title: z.string().optional(),
        total: z.number(),
        confirmed: z.array(z.string()),
        failure: z.object({ host: z.string(), check: z.string().optional(), reason: z.string().optional() }).optional(),
      }),
    ),
  }),
});
export type Position = z.infer<typeof Position> & { fold: NotifyFold };

export const positionFile = (dir: string, provider: string) => join(dir, `${encodeURIComponent(provider)}.json`);

/** The saved position, or null when there is none yet. A damaged file is an error, not a silent restart. */
export async function loadPosition(file: string): Promise<Position | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    raw = e;
  }
  const parsed = Position.safeParse(raw);
  if (!parsed.success) throw Object.assign(new Error(`notification position ${file} is damaged; remove it to start again from the end of the log`), { code: 'NOTIFY_POSITION_INVALID' });
  return parsed.data as Position;
}

export async function savePosition(file: string, position: Position): Promise<void> {
  const dir = join(file, '..');
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(position));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(dir);
}
