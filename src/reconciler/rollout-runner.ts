import type { WarmProbers } from '../checks/probes/warm-prober.js';
import type { CommitResult } from '../eventlog/events.js';
import type { EventStore } from '../eventlog/store.js';
import type { GitSource } from '../git/source.js';
import type { HostDriver } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import type { BeforeSnapshotStore } from '../rollout/before-snapshots.js';
import type { RolloutConfig } from '../rollout/rollout-config.js';
import { startRollout, type RolloutDeps, type RolloutHandle } from '../rollout/run-rollout.js';
import type { RevisionProgress } from '../state/projections.js';
import type { RevisionPlan } from './planner.js';

export interface RolloutRunnerOptions {
  store: EventStore;
  logger: Logger;
  drivers: ReadonlyMap<string, HostDriver>;
  beforeSnapshots: BeforeSnapshotStore;
  /** Asked for the branch's tip while a `supersede` rollout runs. */
  git: Pick<GitSource, 'head'>;
  /** How often a running rollout looks for a newer commit. */
  pollIntervalMs: number;
  /** Told about every host the rollout changes (the drift loop). */
  observerFor?: (revision: string) => RolloutDeps['observer'];
  now?: RolloutDeps['now'];
  clock?: RolloutDeps['clock'];
}

/**
 * Runs one revision's rollout at a time from its plan: the rollout and host machines bound to
 * the host drivers, a newer commit superseding it (`onNewCommit: supersede`), operator requests
 * passed on, and the revision's before-snapshots discarded once it ends.
 */
export class RolloutRunner {
  private current: { revision: string; handle: RolloutHandle } | null = null;

  constructor(private readonly opts: RolloutRunnerOptions) {}

  /** The revision whose rollout is running, if any. */
  get active(): string | null {
    return this.current?.revision ?? null;
  }

  send(event: Parameters<RolloutHandle['send']>[0]): void {
    this.current?.handle.send(event);
  }

  interrupt(reason: Error): void {
    this.current?.handle.interrupt(reason);
  }

  /** `progress` is the revision as the log has it; recorded waves mean the rollout resumes. `probers`: the revision's, owned by the caller. */
  async run(revision: string, plan: RevisionPlan, config: RolloutConfig, progress: RevisionProgress, probers?: WarmProbers): Promise<CommitResult> {
    const { logger } = this.opts;
    const observer = this.opts.observerFor?.(revision);
    const handle = startRollout(
      revision,
      plan.waves,
      config,
      plan.budgets,
      {
        store: this.opts.store,
        logger,
        drivers: this.opts.drivers,
        snapshots: this.opts.beforeSnapshots,
        rulesetFor: plan.rulesetFor,
        checksFor: () => plan.checks,
        reachabilityChecks: plan.reachability,
        attempt: progress.attempt,
        ...(probers ? { probers } : {}),
        ...(observer ? { observer } : {}),
        ...(this.opts.now ? { now: this.opts.now } : {}),
        ...(this.opts.clock ? { clock: this.opts.clock } : {}),
      },
      progress.waves ? progress : undefined,
    );
    this.current = { revision, handle };
    const watcher = config.onNewCommit === 'supersede' ? this.watchForNewerCommit(revision, handle) : null;
    try {
      const output = await handle.done;
      await this.opts.beforeSnapshots.discard(revision).catch((e: Error) => logger.warn({ event: 'SnapshotCleanupFailed', revision }, `removing the before-snapshots failed: ${e.message}`));
      return { revision, outcome: output.outcome, failedHosts: output.failedHosts };
    } finally {
      watcher?.stop();
      this.current = null;
    }
  }

  /** Supersede: a newer commit ends the running rollout once its in-flight hosts settle. */
  private watchForNewerCommit(revision: string, handle: RolloutHandle) {
    const { git, logger, pollIntervalMs } = this.opts;
    let stopped = false;
    let timer: NodeJS.Timeout | null = null;
    const look = async () => {
      try {
        const head = await git.head();
        if (!stopped && head && head !== revision) {
          logger.info({ event: 'NewerCommit', revision, newer: head }, `newer commit ${head.slice(0, 8)}: superseding once in-flight hosts settle`);
          handle.send({ type: 'SUPERSEDE' });
          return;
        }
      } catch (e) {
        logger.warn({ event: 'GitPollFailed', revision }, `looking for newer commits failed: ${(e as Error).message}`);
      }
      if (!stopped) timer = setTimeout(look, pollIntervalMs);
    };
    timer = setTimeout(look, pollIntervalMs);
    return {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
      },
    };
  }
}
