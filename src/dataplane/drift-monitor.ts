import { applyRuleset, checkDrift, compareStructure, NftError, readTable, type SavedRuleset } from './apply.js';
import type { NftRunner } from './nft-runner.js';

export interface DriftHost {
  nft: NftRunner;
  /**
   * The ruleset text Palisade last applied and confirmed on this host, or null while there is
   * none or while a rollout step is in flight there: the monitor must never restore a ruleset the
   * reconciler is about to replace or has just rolled back.
   */
  desired(): string | null;
}

export interface DriftDetails {
  /** What differs, first difference only: `missing chain x`, `chain y has different rules`, `line 12: …`. */
  difference: string;
  /** True when the desired ruleset was put back and read back intact. */
  restored: boolean;
  /** Why restoring failed (nft's own message in `stderr`). */
  restoreError?: NftError;
}

export interface DriftMonitorOptions {
  hosts: ReadonlyMap<string, DriftHost>;
  intervalMs: number;
  onDrift(host: string, details: DriftDetails): void;
  /** A host that could not be checked (typically an `NftError` reading its table); the monitor carries on with the others. */
  onError(host: string, error: Error): void;
  /** Put the desired ruleset back when drift is found (default true). */
  restore?: boolean;
}

export interface DriftMonitor {
  /** Records the listing `applyRuleset` returned, so the next check compares against exactly it. */
  noteApplied(host: string, text: string, applied: string): void;
  /** A fresh sweep over every host (after one in progress, if any); resolves when it is done. */
  checkNow(): Promise<void>;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
}

/** The first line where two listings differ, for a hand edit that changed no rule comment. */
export function firstDifference(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}: expected ${JSON.stringify(a[i]?.trim() ?? '(end)')}, found ${JSON.stringify(b[i]?.trim() ?? '(end)')}`;
  }
  return 'no difference';
}

/**
 * Periodically reads back each host's `table inet palisade` and compares it with what Palisade
 * applied: exactly with the listing recorded after the apply when there is one (`noteApplied`, or
 * a previous check), otherwise structurally with the desired text (chains, sets, rule comments),
 * adopting the live listing as the baseline when the structure matches. Drift is reported and,
 * with `restore`, repaired by applying the desired ruleset again through the full apply pipeline.
 * Sweeps never overlap, and hosts are checked one at a time so a fleet never has more than one
 * nft process of the monitor's running.
 */
export function createDriftMonitor(opts: DriftMonitorOptions): DriftMonitor {
  if (!(opts.intervalMs >= 100)) throw new RangeError(`drift monitor interval must be at least 100 ms, got ${opts.intervalMs}`);
  const restore = opts.restore ?? true;
  /** Per host: the desired text and the kernel's listing of it, once known. */
  const baselines = new Map<string, { text: string; applied: string }>();
  let sweep: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  async function checkHost(name: string, host: DriftHost): Promise<void> {
    const text = host.desired();
    if (text === null) {
      baselines.delete(name);
      return;
    }
    const known = baselines.get(name);
    let current: SavedRuleset;
    let difference: string | null;
    if (known?.text === text) {
      const report = await checkDrift(host.nft, known.applied);
      current = report.current;
      difference = !report.drifted ? null : current === 'absent' ? 'the table is missing' : (compareStructure(text, current) ?? firstDifference(known.applied, current));
    } else {
      current = await readTable(host.nft);
      difference = current === 'absent' ? 'the table is missing' : compareStructure(text, current);
      if (difference === null) baselines.set(name, { text, applied: current as string });
    }
    if (difference === null) return;
    if (!restore) return opts.onDrift(name, { difference, restored: false });
    try {
      const { applied } = await applyRuleset(host.nft, text);
      baselines.set(name, { text, applied });
      opts.onDrift(name, { difference, restored: true });
    } catch (e) {
      if (!(e instanceof NftError)) throw e;
      opts.onDrift(name, { difference, restored: false, restoreError: e });
    }
  }

  async function runSweep(): Promise<void> {
    for (const [name, host] of opts.hosts) {
      if (stopped) return;
      try {
        await checkHost(name, host);
      } catch (e) {
        // One host's failure (or a throwing callback) must not stop the others being checked.
        opts.onError(name, e instanceof Error ? e : new Error(String(e)));
      }
    }
  }

  const checkNow = async (): Promise<void> => {
    // A sweep in progress may already have passed a host the caller just changed: run a new one.
    while (sweep) await sweep;
    sweep = runSweep().finally(() => (sweep = null));
    return sweep;
  };

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => void checkNow().finally(schedule), opts.intervalMs);
    // The monitor alone must not keep a process alive.
    timer.unref();
  };
  schedule();

  return {
    noteApplied: (host, text, applied) => void baselines.set(host, { text, applied }),
    checkNow,
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await sweep;
    },
  };
}
