import type { NftRunner } from './nft-runner.js';
import { TABLE } from './render.js';

export type NftErrorCode = 'NFT_CHECK_FAILED' | 'NFT_APPLY_FAILED' | 'NFT_READ_FAILED' | 'NFT_READBACK_MISMATCH' | 'NFT_RESTORE_FAILED';

/** An nft step failed; `stderr` is nft's own message, worth putting in the event log as is. */
export class NftError extends Error {
  constructor(
    readonly code: NftErrorCode,
    message: string,
    readonly stderr: string,
    readonly where: string,
  ) {
    super(`${message} (${where})${stderr ? `: ${stderr.trim()}` : ''}`);
    this.name = 'NftError';
  }
}

/** The table as listed by nft, or `absent` when Palisade's table does not exist. */
export type SavedRuleset = string | 'absent';

export interface ApplyResult {
  /** What was there before: hand it to `restoreRuleset` to roll back. */
  previous: SavedRuleset;
  /** The table as the kernel lists it after the apply: the baseline for drift checks. */
  applied: string;
}

/** Lists `table inet palisade`; `absent` if it does not exist. */
export async function readTable(nft: NftRunner): Promise<SavedRuleset> {
  const r = await nft.run(['list', 'table', ...TABLE.split(' ')]);
  if (r.code === 0) return r.stdout;
  // nft's own ENOENT for the table, not `ip netns exec` failing to find the namespace (exit 255,
  // same errno text): a host that cannot be reached must never look like a host without a table.
  if (r.code === 1 && /^Error: No such file or directory\n/.test(r.stderr)) return 'absent';
  throw new NftError('NFT_READ_FAILED', 'could not list the palisade table', r.stderr, nft.where);
}

/** What the caller already knows, so the apply skips the `nft` runs that would only find it again. */
export interface ApplyHints {
  /** This very text passed `nft -c` on this host moments ago. */
  checked?: boolean;
  /** The table as listed just before (the rollout's before-snapshot). */
  previous?: SavedRuleset;
}

/**
 * check → save → apply → read back and compare. nft applies a batch all-or-nothing, so a failed
 * check or apply leaves the host as it was; a read-back that does not match restores the saved table.
 */
export async function applyRuleset(nft: NftRunner, text: string, hints: ApplyHints = {}): Promise<ApplyResult> {
  if (!hints.checked) {
    const check = await nft.run(['-c', '-f', '-'], text);
    if (check.code !== 0) throw new NftError('NFT_CHECK_FAILED', 'nft rejected the ruleset in a dry run', check.stderr, nft.where);
  }
  const previous = hints.previous ?? (await readTable(nft));
  const apply = await nft.run(['-f', '-'], text);
  if (apply.code !== 0) throw new NftError('NFT_APPLY_FAILED', 'nft failed to apply the ruleset', apply.stderr, nft.where);
  const applied = await readTable(nft);
  const diff = applied === 'absent' ? 'the table is missing' : compareStructure(text, applied);
  if (diff !== null) {
    await restoreRuleset(nft, previous);
    throw new NftError('NFT_READBACK_MISMATCH', `the kernel's table does not match what was applied (${diff}); previous table restored`, '', nft.where);
  }
  return { previous, applied: applied as string };
}

/**
 * How every rollback starts: create-then-delete makes the delete valid whether or not the table
 * exists, and the saved listing follows in the same batch, so nft replaces the table atomically.
 * SSH hosts' own revert watchdog writes the same batch (src/hosts/ssh/remote-scripts.ts).
 */
export const RESTORE_PREFIX = `table ${TABLE} {}\ndelete table ${TABLE}\n`;

/** Puts back a saved table (or removes Palisade's table when there was none), in one batch. */
export async function restoreRuleset(nft: NftRunner, previous: SavedRuleset): Promise<void> {
  const text = previous === 'absent' ? RESTORE_PREFIX : `${RESTORE_PREFIX}${previous}`;
  const r = await nft.run(['-f', '-'], text);
  if (r.code !== 0) throw new NftError('NFT_RESTORE_FAILED', 'nft failed to restore the previous ruleset', r.stderr, nft.where);
}

export interface DriftReport {
  drifted: boolean;
  /** What the kernel has now. */
  current: SavedRuleset;
}

/** Compares the kernel's table with the listing recorded right after Palisade applied it. */
export async function checkDrift(nft: NftRunner, applied: string): Promise<DriftReport> {
  const current = await readTable(nft);
  return { drifted: current !== applied, current };
}

/**
 * The shape both texts must share: chain and set names, and every chain's rule comments in order.
 * Palisade comments every rule, so this catches a missing, extra or reordered rule without
 * having to predict how nft re-prints expressions. Returns a description of the first difference.
 */
export function compareStructure(rendered: string, listed: string): string | null {
  const want = structureOf(rendered.slice(rendered.lastIndexOf(`table ${TABLE} {\n`)));
  const got = structureOf(listed);
  const keys = new Set([...want.keys(), ...got.keys()]);
  for (const key of [...keys].sort()) {
    const a = want.get(key);
    const b = got.get(key);
    if (!a) return `unexpected ${key}`;
    if (!b) return `missing ${key}`;
    if (a.join('\n') !== b.join('\n')) return `${key} has different rules`;
  }
  return null;
}

function structureOf(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const line of text.split('\n')) {
    const head = /^\s*(chain|set|map) (\S+) \{$/.exec(line);
    if (head) {
      current = [];
      out.set(`${head[1]} ${head[2]}`, current);
      continue;
    }
    const c = /comment "([^"]*)"\s*$/.exec(line);
    if (current && c) current.push(c[1]!);
  }
  return out;
}
