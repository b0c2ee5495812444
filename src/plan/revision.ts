import { loadPolicyFiles, type LoadResult } from '../model/load.js';
import type { ModelErrorRecord } from '../eventlog/events.js';
import { defaultRolloutConfig, parseRolloutConfig, ROLLOUT_CONFIG_FILE, type RolloutConfig } from '../rollout/rollout-config.js';
import { desiredStateOf, type DesiredState } from '../state/desired-state.js';

/** One revision's files, paths as they should be shown (relative to the repository root). */
export interface RevisionFiles {
  /** What the user called it (`main`, `HEAD`, a commit id). */
  ref: string;
  commit?: string;
  files: readonly { path: string; content: string | Uint8Array }[];
  /** Path of `palisade.yaml` among `files`; default `palisade.yaml`. */
  configPath?: string;
}

export interface LoadedRevision {
  ref: string;
  commit?: string;
  loaded: LoadResult;
  config: RolloutConfig | null;
  configErrors: ModelErrorRecord[];
  state: DesiredState;
  /** Path → text, for locating fields inside resources. */
  texts: Map<string, string>;
}

const decoder = new TextDecoder();
const textOf = (c: string | Uint8Array) => (typeof c === 'string' ? c : decoder.decode(c));

/**
 * Splits a revision into resources and rollout configuration, as the reconciler's
 * `readRevision` does, but with the configuration at any path (for `--path` sub-directories).
 * `skipInvalid` keeps what validates, for a base revision that is itself broken.
 */
export function loadRevision(rev: RevisionFiles, opts: { skipInvalid?: boolean } = {}): LoadedRevision {
  const configPath = rev.configPath ?? ROLLOUT_CONFIG_FILE;
  const configFile = rev.files.find((f) => f.path === configPath);
  const policyFiles = rev.files.filter((f) => f !== configFile);
  const loaded = loadPolicyFiles(policyFiles, { skipInvalid: opts.skipInvalid ?? false });
  const rollout = configFile ? parseRolloutConfig(textOf(configFile.content), configFile.path) : { config: defaultRolloutConfig(), errors: [] };
  const texts = new Map(policyFiles.map((f) => [f.path, textOf(f.content)]));
  return {
    ref: rev.ref,
    ...(rev.commit ? { commit: rev.commit } : {}),
    loaded,
    config: rollout.config,
    configErrors: rollout.errors,
    state: desiredStateOf(loaded.resources),
    texts,
  };
}
