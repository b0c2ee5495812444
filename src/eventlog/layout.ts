import { join } from 'node:path';

/** Where Palisade keeps its files under `--state DIR`; one place, so the CLI and the reconciler agree. */
export function stateLayout(stateDir: string) {
  return {
    events: join(stateDir, 'events'),
    snapshots: join(stateDir, 'snapshots'),
    /** Bare mirrors of remote repositories. */
    gitCache: join(stateDir, 'git'),
    /** What each host held before a revision touched it (what a rollback restores). */
    before: join(stateDir, 'before'),
    /** Where the running reconciler's HTTP server listens, for `palisade rollout pause|resume|…`. */
    endpoint: join(stateDir, 'http.json'),
    /** Each notification provider's position in the event log. */
    notify: join(stateDir, 'notify'),
  };
}
