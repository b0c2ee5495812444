import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { GitSourceError } from './errors.js';

/** The git directory of a local repository: `<path>/.git`, a worktree's `gitdir:` file, or a bare repository. */
export function findGitdir(path: string): string {
  const root = resolve(path);
  if (!existsSync(root)) throw new GitSourceError('GIT_UNREACHABLE', `repository path ${root} does not exist`);
  const dotgit = join(root, '.git');
  if (existsSync(dotgit)) {
    if (statSync(dotgit).isDirectory()) return dotgit;
    const m = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotgit, 'utf8'));
    if (m) return isAbsolute(m[1]!.trim()) ? m[1]!.trim() : resolve(root, m[1]!.trim());
  }
  if (existsSync(join(root, 'HEAD')) && existsSync(join(root, 'objects'))) return root;
  throw new GitSourceError('GIT_NOT_A_REPO', `${root} is not a Git repository (no .git directory, not bare)`);
}
