import path from 'node:path';
import { byPosition, loadPolicyFiles, readPolicyDirectory, type LoadedFile, type LoadOptions, type LoadResult } from '../model/load.js';
import type { ModelError } from '../model/errors.js';
import { defaultRolloutConfig, parseRolloutConfig, ROLLOUT_CONFIG_FILE, type RolloutConfig } from '../rollout/rollout-config.js';

/**
 * A policy repository (or the tracked sub-directory of one): Calico resources, plus
 * `palisade.yaml` at its root saying how revisions roll out. Every reader — the reconciler,
 * `validate`, `plan`, `explain`, `render` — goes through here, so they agree on what it holds.
 */
export interface PolicyRepository {
  resources: LoadResult['resources'];
  /** The rollout configuration; the defaults when there is no palisade.yaml; null when it is invalid. */
  rollout: RolloutConfig | null;
  /** Every problem, resources and palisade.yaml together, in file order. */
  errors: ModelError[];
  warnings: ModelError[];
}

/** `root` is the prefix the file paths carry (a directory path), empty for paths relative to the repository. */
export function readRepository(files: readonly LoadedFile[], opts: LoadOptions & { root?: string } = {}): PolicyRepository {
  const configPath = path.join(opts.root ?? '', ROLLOUT_CONFIG_FILE);
  // A symlinked palisade.yaml is not the configuration: it goes to the model, which refuses it.
  const configFile = files.find((f) => path.normalize(f.path) === configPath && f.symlink === undefined);
  const loaded = loadPolicyFiles(
    files.filter((f) => f !== configFile),
    opts,
  );
  const rollout = configFile
    ? parseRolloutConfig(typeof configFile.content === 'string' ? configFile.content : new TextDecoder().decode(configFile.content), configFile.path)
    : { config: defaultRolloutConfig(), errors: [] };
  return { resources: loaded.resources, rollout: rollout.config, errors: byPosition([...loaded.errors, ...rollout.errors]), warnings: loaded.warnings };
}

export async function readRepositoryDirectory(dir: string, opts: LoadOptions = {}): Promise<PolicyRepository> {
  const { files, errors } = await readPolicyDirectory(dir, opts);
  const repo = readRepository(files, { ...opts, root: path.normalize(dir) });
  return { ...repo, errors: byPosition([...errors, ...repo.errors]) };
}
