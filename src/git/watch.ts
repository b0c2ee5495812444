import { watch } from 'chokidar';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';

const DEBOUNCE_MS = 100;

/**
 * Hints that a ref may have moved. Watches directories, not ref files: git replaces refs by
 * rename and `pack-refs` deletes loose ones, and chokidar can miss the first event after
 * `ready` (engineering notes §6) — so callers must keep polling; this only makes them faster.
 */
export function watchRefs(gitdir: string, onHint: () => void, logger?: Logger): () => void {
  let timer: NodeJS.Timeout | undefined;
  const hint = () => {
    clearTimeout(timer);
    timer = setTimeout(onHint, DEBOUNCE_MS);
  };
  const relevant = (path: string) => {
    const name = basename(path);
    return !name.endsWith('.lock') && (path.startsWith(join(gitdir, 'refs')) || name === 'HEAD' || name === 'packed-refs');
  };
  const watcher = watch([gitdir, join(gitdir, 'refs', 'heads')], {
    depth: 0,
    ignoreInitial: true,
    ignored: (path) => basename(path).endsWith('.lock'),
  });
  watcher.on('all', (_event, path) => {
    if (relevant(path)) hint();
  });
  watcher.on('error', (e) => logger?.warn({ err: e }, 'git: ref watcher failed; relying on polling'));
  return () => {
    clearTimeout(timer);
    void watcher.close();
  };
}
