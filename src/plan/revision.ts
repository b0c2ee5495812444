import path from 'node:path';
import type { LoadedFile } from '../model/load.js';
import { readRepository, type PolicyRepository } from '../repository/repository.js';
import { ROLLOUT_CONFIG_FILE } from '../rollout/rollout-config.js';
import { desiredStateOf, type DesiredState } from '../state/desired-state.js';

/** One revision's files, paths as they should be shown (relative to the repository root). */
export interface RevisionFiles {
  /** What the user called it (`main`, `HEAD`, a commit id). */
  ref: string;
  commit?: string;
  files: readonly LoadedFile[];
  /** Path of `palisade.yaml` among `files`; default `palisade.yaml`. */
  configPath?: string;
}

export interface LoadedRevision {
  ref: string;
  commit?: string;
  repository: PolicyRepository;
  state: DesiredState;
  /** Path → text, for locating fields inside resources. */
  texts: Map<string, string>;
}

const decoder = new TextDecoder();
const textOf = (c: string | Uint8Array) => (typeof c === 'string' ? c : decoder.decode(c));

/**
 * A revision read as the reconciler reads it (resources plus palisade.yaml), with the
 * configuration at any path (for `--path` sub-directories). `skipInvalid` keeps what validates,
 * for a base revision that is itself broken.
 */
export function loadRevision(rev: RevisionFiles, opts: { skipInvalid?: boolean } = {}): LoadedRevision {
  const root = path.dirname(rev.configPath ?? ROLLOUT_CONFIG_FILE);
  const repository = readRepository(rev.files, { skipInvalid: opts.skipInvalid ?? false, root: root === '.' ? '' : root });
  return {
    ref: rev.ref,
    ...(rev.commit ? { commit: rev.commit } : {}),
    repository,
    state: desiredStateOf(repository.resources),
    texts: new Map(rev.files.map((f) => [f.path, textOf(f.content)])),
  };
}
