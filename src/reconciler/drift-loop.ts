import { createDriftMonitor, type DriftMonitor } from '../dataplane/drift-monitor.js';
import type { EventDraft, HostResult } from '../eventlog/events.js';
import type { HostDriver, Ruleset } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import type { RolloutDeps } from '../rollout/run-rollout.js';

export interface DriftLoopOptions {
  drivers: ReadonlyMap<string, HostDriver>;
  logger: Logger;
  /** Records a `DriftDetected` event. */
  record(draft: EventDraft): Promise<unknown>;
}

/**
 * Reads every nft-driven host's table back on an interval; a table someone changed by hand is
 * recorded (`DriftDetected`) and put back. Hosts are watched once this process has applied or
 * restored them, and never while a rollout step is in flight there.
 */
export class DriftLoop {
  /**
   * What each host holds as far as this process has seen it applied, from which revision, and the
   * kernel's listing right after: what drift is measured against.
   */
  private readonly held = new Map<string, { text: string | null; revision: string; listing: string | null }>();
  /** Hosts with a rollout step in flight, and the ruleset going onto them. */
  private readonly inFlight = new Map<string, string | null>();
  /** In-flight hosts whose apply was read back: the listing, so settling need not list again. */
  private readonly readBack = new Map<string, string>();
  private monitor: DriftMonitor | null = null;

  constructor(private readonly opts: DriftLoopOptions) {}

  /** What the rollout of `revision` tells the loop: a host is about to change, a host settled. */
  observerFor(revision: string): NonNullable<RolloutDeps['observer']> {
    return {
      applying: (host: string, ruleset: Ruleset) => {
        this.inFlight.set(host, ruleset.text || null);
        this.readBack.delete(host);
      },
      applied: (host: string, listing: string) => this.readBack.set(host, listing),
      settled: (host: string, result: HostResult) => this.noteSettled(host, result, revision),
    };
  }

  private noteSettled(host: string, result: HostResult, revision: string): void {
    const text = this.inFlight.get(host);
    const readBack = this.readBack.get(host);
    this.readBack.delete(host);
    if (text === undefined || (result !== 'confirmed' && result !== 'rolledBack')) {
      this.inFlight.delete(host);
      if (result === 'failed') this.held.delete(host);
      return;
    }
    // A confirmed host holds what its apply listed (a hand edit since then is drift, found by
    // the next check); a restored one is listed now. Until then the host stays unwatched.
    const listing = result === 'confirmed' && readBack !== undefined ? Promise.resolve(readBack) : this.opts.drivers.get(host)!.current();
    void listing
      .then(
        (listing) => {
          this.held.set(host, { text, revision, listing });
          if (text !== null && listing !== null) this.monitor?.noteApplied(host, text, listing);
        },
        () => this.held.delete(host),
      )
      .finally(() => this.inFlight.delete(host));
  }

  start(intervalMs: number): DriftMonitor {
    const { logger } = this.opts;
    const hosts = new Map(
      [...this.opts.drivers]
        .filter(([, d]) => d.nft)
        .map(([name, d]) => [name, { nft: d.nft!, desired: () => (this.inFlight.has(name) ? null : (this.held.get(name)?.text ?? null)) }] as const),
    );
    const monitor = createDriftMonitor({
      hosts,
      intervalMs,
      restore: true,
      onDrift: (host, d) => {
        const revision = this.held.get(host)?.revision ?? 'unknown';
        const details = d.restoreError ? `${d.difference}; restore failed: ${d.restoreError.message}` : d.difference;
        logger[d.restored ? 'warn' : 'error']({ event: 'DriftDetected', host, revision, restored: d.restored }, `${host}: table changed outside Palisade (${details})${d.restored ? '; restored' : ''}`);
        void this.opts
          .record({ type: 'DriftDetected', revision, key: `${revision}:drift:${host}:${Date.now()}`, host, details, restored: d.restored })
          .catch((e: Error) => logger.error({ event: 'DriftDetected', host }, `recording drift failed: ${e.message}`));
      },
      onError: (host, e) => logger.warn({ event: 'DriftCheckFailed', host }, `drift check of ${host} failed: ${e.message}`),
    });
    for (const [host, h] of this.held) if (h.text !== null && h.listing !== null) monitor.noteApplied(host, h.text, h.listing);
    this.monitor = monitor;
    return {
      ...monitor,
      stop: async () => {
        this.monitor = null;
        await monitor.stop();
      },
    };
  }
}
