import type { ModelErrorRecord } from '../eventlog/events.js';
import type { GitSource, PolicyFile } from '../git/source.js';
import type { Logger } from '../log/logger.js';
import type { PalisadeMetrics } from '../metrics.js';
import type { FileCache } from '../model/load.js';
import { readRepository, type PolicyRepository } from '../repository/repository.js';
import type { RolloutConfig } from '../rollout/rollout-config.js';

/** A revision read from Git and validated: either every error, or its resources and rollout configuration. */
export type RevisionRead =
  | { valid: false; errors: ModelErrorRecord[] }
  | { valid: true; resources: PolicyRepository['resources']; config: RolloutConfig; warnings: PolicyRepository['warnings'] };

export interface RevisionSourceOptions {
  git: GitSource;
  logger: Logger;
  metrics?: Pick<PalisadeMetrics, 'diffDuration'>;
}

/**
 * Reads a revision's policy files from Git and validates them (model and `palisade.yaml`). It
 * keeps the last revision's files: the next revision is those plus `git diff`, and unchanged files
 * keep their buffers, so the model re-parses only what changed.
 */
export class RevisionSource {
  private tree: { revision: string; files: Map<string, PolicyFile> } | null = null;
  private readonly fileCache: FileCache = new WeakMap();

  constructor(private readonly opts: RevisionSourceOptions) {}

  async read(revision: string): Promise<RevisionRead> {
    const repository = readRepository(await this.filesOf(revision), { fileCache: this.fileCache });
    if (repository.errors.length > 0 || !repository.rollout) return { valid: false, errors: repository.errors.map((e) => ({ ...e })) };
    return { valid: true, resources: repository.resources, config: repository.rollout, warnings: repository.warnings };
  }

  /** A revision's policy files: the last revision's plus what `git diff` says changed, or a full read. */
  private async filesOf(revision: string): Promise<PolicyFile[]> {
    const { git } = this.opts;
    let files: Map<string, PolicyFile> | null = null;
    if (this.tree && this.tree.revision !== revision) {
      const started = performance.now();
      const changes = await git.diff(this.tree.revision, revision).catch((e: unknown) => {
        // The base vanished (force-push, pruned mirror): read the revision whole instead.
        this.opts.logger.warn({ event: 'GitDiffFailed', revision, base: this.tree?.revision }, `diff against the last read revision failed, reading the whole tree: ${(e as Error).message}`);
        return null;
      });
      if (changes) {
        this.opts.metrics?.diffDuration.observe((performance.now() - started) / 1000);
        files = new Map(this.tree.files);
        for (const c of changes) {
          if (c.change === 'removed') files.delete(c.path);
          else files.set(c.path, { path: c.path, content: c.content!, ...(c.symlink !== undefined ? { symlink: c.symlink } : {}) });
        }
      }
    } else if (this.tree) files = this.tree.files;
    files ??= new Map((await git.readFiles(revision)).map((f) => [f.path, f]));
    this.tree = { revision, files };
    return [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}
