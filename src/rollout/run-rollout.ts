import { createActor, fromPromise, toPromise, type InspectionEvent } from 'xstate';
import { hostMachine, type CheckRound, type EffectInput } from '../../machines/host.js';
import { rolloutMachine, type RolloutOutput, type Wave } from '../../machines/rollout.js';
import type { CheckSpec } from '../checks/check-spec.js';
import { runChecks, type CheckPolicy, DEFAULT_CHECK_POLICY } from '../checks/run-checks.js';
import type { EventDraft } from '../eventlog/events.js';
import type { EventStore } from '../eventlog/store.js';
import type { HostDriver, HostInterface, Ruleset } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import { resumePoint, type RevisionProgress } from '../state/projections.js';
import type { BeforeSnapshots } from './before-snapshots.js';

export interface RolloutSettings {
  concurrency: number;
  maxFailures: number;
  soakMs: number;
  soakIntervalMs: number;
  checkPolicy: CheckPolicy;
}

export const DEFAULT_ROLLOUT_SETTINGS: RolloutSettings = {
  concurrency: 4,
  maxFailures: 0,
  soakMs: 0,
  soakIntervalMs: 1000,
  checkPolicy: DEFAULT_CHECK_POLICY,
};

export interface RolloutDeps {
  store: EventStore;
  logger: Logger;
  drivers: ReadonlyMap<string, HostDriver>;
  snapshots: BeforeSnapshots;
  /** Compiles and renders the revision's ruleset for a host with the interfaces it has now. */
  rulesetFor(host: string, interfaces: HostInterface[]): Ruleset;
  checksFor(host: string): readonly CheckSpec[];
}

/**
 * Appends events strictly in order, one batch at a time. Effects that must not run before
 * their transition is on disk (an apply, a restore) wait on `flush()`.
 */
class Recorder {
  private tail: Promise<unknown> = Promise.resolve();
  private failure: unknown = null;
  constructor(private readonly store: EventStore) {}

  record(draft: EventDraft): void {
    this.tail = this.tail.then(() => this.store.append([draft])).catch((e) => {
      this.failure ??= e;
    });
  }

  async flush(): Promise<void> {
    await this.tail;
    if (this.failure) throw this.failure;
  }
}

/**
 * Runs (or resumes) the rollout of `revision` across `waves`: the rollout machine drives the
 * host machines, whose effects are bound here to the host drivers; every host transition
 * becomes one event and one log line.
 */
export async function runRollout(
  revision: string,
  waves: Wave[],
  deps: RolloutDeps,
  settings: RolloutSettings,
  resumeFrom?: RevisionProgress,
): Promise<RolloutOutput> {
  const started = Date.now();
  const recorder = new Recorder(deps.store);
  const log = deps.logger.child({ revision });
  const driver = (host: string) => {
    const d = deps.drivers.get(host);
    if (!d) throw new Error(`host '${host}' is in the rollout but not in the hosts file`);
    return d;
  };
  const checkRound = (input: EffectInput): Promise<CheckRound> =>
    runChecks(deps.checksFor(input.host), (check) => driver(input.host).check(check), settings.checkPolicy);

  const host = hostMachine.provide({
    actors: {
      preflight: fromPromise<CheckRound, EffectInput>(({ input }) => checkRound(input)),
      apply: fromPromise<{ rulesetHash: string }, EffectInput>(async ({ input }) => {
        await recorder.flush();
        const d = driver(input.host);
        const ruleset = deps.rulesetFor(input.host, await d.readInterfaces());
        await deps.snapshots.putIfAbsent(input.host, revision, await d.current());
        await d.apply(ruleset);
        return { rulesetHash: ruleset.hash };
      }),
      verify: fromPromise<CheckRound, EffectInput>(({ input }) => checkRound(input)),
      restore: fromPromise<{ rulesetHash: string }, EffectInput>(async ({ input }) => {
        await recorder.flush();
        const before = await deps.snapshots.get(input.host, revision);
        // No snapshot means the apply never started: the host still holds what it had.
        if (before) await driver(input.host).restore(before.snapshot);
        return { rulesetHash: before?.snapshot == null ? 'none' : 'previous' };
      }),
    },
  });

  if (!resumeFrom?.waves) {
    recorder.record({ type: 'RolloutStarted', revision, key: `${revision}:rollout-started`, waves });
    log.info({ event: 'RolloutStarted', waves: waves.map((w) => `${w.name}: ${w.hosts.join(', ')}`) }, 'rollout started');
  } else {
    log.info({ event: 'RolloutResumed' }, 'resuming the interrupted rollout from the event log');
  }

  const lastState = new Map<string, string>();
  const inspect = (ev: InspectionEvent) => {
    if (ev.type !== '@xstate.snapshot' || !(ev.actorRef as { id?: string }).id?.startsWith('host:')) return;
    const snap = ev.snapshot as unknown as { value: string | Record<string, unknown>; context: { host: string; wave: number; reason: string | null; checks: RolloutOutput['results'][string]['checks']; rulesetHash: string | null } };
    const to = typeof snap.value === 'string' ? snap.value : Object.keys(snap.value)[0]!;
    const { host: name, wave, reason, checks, rulesetHash } = snap.context;
    const from = lastState.get(name) ?? resumeFrom?.hosts[name]?.state ?? 'queued';
    if (from === to) return;
    lastState.set(name, to);
    const showChecks = to === 'rollingBack' || to === 'soaking' || to === 'unreachable' || to === 'failed' || to === 'confirmed';
    recorder.record({
      type: 'HostTransition',
      revision,
      key: `${revision}:host:${name}:${from}->${to}`,
      host: name,
      wave,
      from,
      to,
      ...(reason && to !== 'confirmed' ? { reason } : {}),
      ...(showChecks && checks.length ? { checks } : {}),
      ...(rulesetHash && (to === 'verifying' || to === 'verifyingRollback') ? { rulesetHash } : {}),
    });
    const line = { event: 'HostTransition', host: name, wave, from, to, state: to, ...(reason && to !== 'confirmed' ? { reason } : {}) };
    if (to === 'failed') log.error(line, `${name}: ${from} → ${to} — HOST STILL UNREACHABLE AFTER ROLLBACK, needs a person`);
    else if (to === 'rollingBack' || to === 'unreachable') log.warn(line, `${name}: ${from} → ${to}`);
    else log.info(line, `${name}: ${from} → ${to}`);
  };

  const resume = resumeFrom ? resumePoint(resumeFrom) : undefined;
  const actor = createActor(rolloutMachine.provide({ actors: { host } }), {
    input: {
      revision,
      waves,
      concurrency: settings.concurrency,
      maxFailures: settings.maxFailures,
      soakMs: settings.soakMs,
      soakIntervalMs: settings.soakIntervalMs,
      ...(resume ? { settled: resume.settled, inFlight: resume.inFlight } : {}),
    },
    inspect,
  });
  const output = await toPromise(actor.start());
  recorder.record({
    type: 'RolloutFinished',
    revision,
    key: `${revision}:rollout-finished`,
    outcome: output.outcome,
    failedHosts: output.failedHosts,
    durationMs: Date.now() - started,
  });
  await recorder.flush();
  const summary = { event: 'RolloutFinished', outcome: output.outcome, failedHosts: output.failedHosts };
  if (output.outcome === 'completed' && output.failedHosts.length === 0) log.info(summary, 'rollout completed');
  else log.warn(summary, `rollout ${output.outcome}`);
  return output;
}
