import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { RulesetRef } from './protocol.js';

/**
 * What an agent must not forget across a crash or restart, written (and fsynced) before the
 * action it guards: the pending, unconfirmed apply is on disk before nft runs, so an agent
 * restarted inside the confirm window still knows to revert.
 */
export const AgentDiskState = z.object({
  /** The last good (confirmed) table as nft listed it: a revert needs no etcd. */
  good: z.object({ ruleset: RulesetRef, text: z.string() }).nullable(),
  pending: z.object({ generation: z.string(), label: z.string(), ruleset: RulesetRef, deadline: z.number() }).nullable(),
  /** The newest desired generation handled (applied, refused or reverted): never handled twice. */
  lastGeneration: z.string().nullable(),
  /** A revert not yet reported to etcd. */
  unreported: z.object({ generation: z.string(), reason: z.string(), ruleset: RulesetRef }).nullable(),
});
export type AgentDiskState = z.infer<typeof AgentDiskState>;

export const emptyAgentState = (): AgentDiskState => ({ good: null, pending: null, lastGeneration: null, unreported: null });

const FILE = 'agent-state.json';

export async function loadAgentState(dir: string): Promise<AgentDiskState> {
  let text: string;
  try {
    text = await readFile(join(dir, FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyAgentState();
    throw e;
  }
  return AgentDiskState.parse(JSON.parse(text));
}

/** Atomic and durable: write a temporary file, fsync, rename over, fsync the directory. */
export async function saveAgentState(dir: string, state: AgentDiskState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `${FILE}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(JSON.stringify(state));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, join(dir, FILE));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
