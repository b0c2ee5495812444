import { applyRuleset, readTable, restoreRuleset, type NftRunner, type SavedRuleset } from '../dataplane/index.js';

/**
 * The agent's seam to the kernel: the same nft pipeline the reconciler uses for lab hosts
 * (dry run, atomic apply, read-back), or an in-memory stand-in for benchmarks of many agents.
 */
export interface AgentDataplane {
  /** Palisade's table as listed now (`absent`: none): what a revert puts back exactly. */
  read(): Promise<SavedRuleset>;
  /** Applies a rendered ruleset all-or-nothing; throws (with the host unchanged) when refused. */
  apply(text: string): Promise<void>;
  /** Puts back a listed table (or removes Palisade's table for `absent`). */
  restore(saved: SavedRuleset): Promise<void>;
}

export function nftDataplane(nft: NftRunner): AgentDataplane {
  return {
    read: () => readTable(nft),
    apply: async (text) => {
      await applyRuleset(nft, text);
    },
    restore: (saved) => restoreRuleset(nft, saved),
  };
}

/** A table that lives in memory: for benchmarks and tests of agent logic without a kernel. */
export function memoryDataplane(): AgentDataplane & { applies: number } {
  let table: SavedRuleset = 'absent';
  const dp = {
    applies: 0,
    read: async () => table,
    apply: async (text: string) => {
      dp.applies++;
      table = text;
    },
    restore: async (saved: SavedRuleset) => {
      table = saved;
    },
  };
  return dp;
}
