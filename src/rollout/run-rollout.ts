import { createActor, fromPromise, toPromise } from 'xstate';
import { hostMachineWithClock, type CheckRound, type EffectInput, type PreflightResult } from '../../machines/host.js';
import { soakRounds } from '../../machines/soak.js';
import { hostPool } from '../../machines/host-pool.js';
import { rolloutMachine, type RolloutEvent, type RolloutOutput } from '../../machines/rollout.js';
import type { CheckSpec } from '../checks/check-spec.js';
import { runChecks } from '../checks/run-checks.js';
import { WarmProbers } from '../checks/probes/warm-prober.js';
import type { CheckOutcome, EventDraft, HostResult, Wave } from '../eventlog/events.js';
import type { EventStore } from '../eventlog/store.js';
import type { HostDriver, HostInterface, Ruleset } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import { resumePoint, type RevisionProgress } from '../state/projections.js';
import type { BeforeSnapshotStore } from './before-snapshots.js';
import type { RolloutConfig } from './rollout-config.js';

export interface RolloutDeps {
  store: EventStore;
  logger: Logger;
  drivers: ReadonlyMap<string, HostDriver>;
  snapshots: BeforeSnapshotStore;
  /** Compiles and renders the revision's ruleset for a host with the interfaces it has now. */
  rulesetFor(host: string, interfaces: HostInterface[]): Ruleset;
  /** Every check for a host; the failsafe checks come first. */
  checksFor(host: string): readonly CheckSpec[];
  /** Names of the checks whose failure at baseline means the host is unreachable. */
  reachabilityChecks: ReadonlySet<string>;
  /** Wall clock (epoch ms) and, for tests and benchmarks, a simulated one. */
  now?: () => number;
  clock?: { setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown; clearTimeout(id: unknown): void };
  /** Sequence of this attempt at the revision (after `palisade rollout retry`), part of every event key. */
  attempt?: number;
  /** Told when a host is about to get a ruleset, what it listed after, and when it settles (drift monitoring follows this). */
  observer?: {
    applying(host: string, ruleset: Ruleset): void;
    applied?(host: string, listing: string): void;
    settled(host: string, result: HostResult): void;
  };
  /**
   * Warm probers for the checks, owned by the caller (started while the revision was still being
   * read, so the first check does not wait for them). Without one, the rollout starts its own and
   * closes it when it ends.
   */
  probers?: WarmProbers;
}

export interface RolloutHandle {
  send(event: Exclude<RolloutEvent, { type: 'HOST_DONE' }>): void;
  /**
   * Stops at once: no host starts another step and nothing more is recorded (the event log
   * cannot record, or this process is no longer the leader); `done` rejects with `reason`.
   * Whoever resumes from the log picks the hosts up where the log has them.
   */
  interrupt(reason: Error): void;
  readonly done: Promise<RolloutOutput>;
}

/**
 * Appends events strictly in order. Transitions recorded while an append is on its way to disk
 * go together in the next one (one fsync for many hosts, not one each). Effects that must not
 * run before their transition is on disk (an apply, a restore) wait on `flush()`. A record's log
 * line is written once it is durable, so the log never tells of a transition the event log
 * does not hold; the first failed append is reported once (`onFailure`) and nothing is
 * recorded after it.
 */
class Recorder {
  private pending: { draft: EventDraft; said?: () => void }[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  constructor(
    private readonly store: EventStore,
    private readonly onFailure: (e: unknown) => void,
  ) {}

  record(draft: EventDraft, said?: () => void): void {
    if (this.failure) return;
    // The first draft after a write took the queue schedules the next write; later ones join it.
    if (this.pending.push(said ? { draft, said } : { draft }) === 1) this.tail = this.tail.then(() => this.write());
  }

  private async write(): Promise<void> {
    const batch = this.pending.splice(0);
    if (this.failure) return;
    try {
      await this.store.append(batch.map((b) => b.draft));
    } catch (e) {
      this.failure = e;
      this.pending = [];
      this.onFailure(e);
      return;
    }
    for (const b of batch) b.said?.();
  }

  async flush(): Promise<void> {
    await this.tail;
    if (this.failure) throw this.failure;
  }
}

class TimeoutError extends Error {
  readonly code = 'ROLLOUT_TIMEOUT';
}

function withTimeout<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

const SHOW_CHECKS_ON = new Set(['applying', 'soaking', 'rollingBack', 'unreachable', 'failed', 'confirmed', 'rejected']);
/** When a wave's first host gets here (its own checks and dry run done), the next wave's dry runs start: measured best of preflight, applying and verifying (bench/rollout/lab.ts). */
const PREFETCH_NEXT_WAVE_AT = 'applying';

/**
 * Starts (or resumes) the rollout of `revision` across `waves`: the rollout machine drives the
 * host machines, whose effects are bound here to the host drivers; every host transition
 * becomes one event and one log line.
 */
export function startRollout(
  revision: string,
  waves: Wave[],
  config: RolloutConfig,
  budgets: number[],
  deps: RolloutDeps,
  resumeFrom?: RevisionProgress,
): RolloutHandle {
  const now = deps.now ?? Date.now;
  const started = now();
  const attempt = deps.attempt ?? 0;
  const keyOf = (what: string) => `${revision}:${attempt > 0 ? `a${attempt}:` : ''}${what}`;
  const log = deps.logger.child({ revision });
  let interrupted: Error | null = null;
  let stopRun: (reason: Error) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stopRun = (reason) => {
      if (interrupted) return;
      interrupted = reason;
      // Rejected before the actor stops: a stopped actor's promise settles too (with no output),
      // and the race must end with the reason, not with a missing outcome.
      reject(reason);
      actor.stop();
      log.error({ event: 'RolloutInterrupted' }, `rollout stopped where it was, nothing more is applied or recorded: ${reason.message}`);
    };
  });
  // Nobody may be awaiting `done` yet when the rollout is interrupted.
  stopped.catch(() => undefined);
  const recorder = new Recorder(deps.store, (e) => stopRun(e instanceof Error ? e : new Error(String(e))));
  const driver = (host: string) => {
    const d = deps.drivers.get(host);
    if (!d) throw new Error(`host '${host}' is in the rollout but not in the hosts file`);
    return d;
  };

  // Checks that already failed before the change are reported but never blamed on it.
  const resume = resumeFrom ? resumePoint(resumeFrom) : undefined;
  const preexisting = new Map<string, Set<string>>(Object.entries(resume?.baselineFailures ?? {}).map(([h, names]) => [h, new Set(names)]));
  // Preflight (dry run) and apply need the same ruleset; compile and render it once unless the
  // host's interfaces changed in between.
  const rulesets = new Map<string, { interfaces: string; ruleset: Ruleset }>();
  const rulesetFor = (host: string, interfaces: HostInterface[]): Ruleset => {
    const key = JSON.stringify(interfaces);
    const known = rulesets.get(host);
    if (known?.interfaces === key) return known.ruleset;
    const ruleset = deps.rulesetFor(host, interfaces);
    rulesets.set(host, { interfaces: key, ruleset });
    return ruleset;
  };
  // One warm probing process per vantage for this rollout's checks, closed when it ends.
  const probers = deps.probers ?? new WarmProbers();
  for (const d of deps.drivers.values()) d.warmUp?.(probers);
  const round = async (host: string): Promise<CheckRound> => {
    const known = preexisting.get(host) ?? new Set<string>();
    const result = await runChecks(deps.checksFor(host), (check) => driver(host).check(check, probers), { attempts: config.checkAttempts, retryDelayMs: 200 });
    const checks: CheckOutcome[] = result.checks.map((c) => (known.has(c.name) ? { ...c, preexisting: true } : c));
    return { ok: checks.every((c) => c.ok || c.preexisting), checks };
  };

  const dryRunPassed = new Set<string>();
  type DryRun = { refusal: string | null } | { error: unknown };
  const passed = (r: DryRun | null): r is DryRun => !!r && 'refusal' in r && r.refusal === null;
  const dryRun = (host: string): Promise<DryRun> => {
    const d = driver(host);
    if (!d.dryRun) return Promise.resolve({ refusal: null });
    return d
      .readInterfaces()
      .then((interfaces) => d.dryRun!(rulesetFor(host, interfaces)))
      .then(
        (refusal) => ({ refusal }),
        (error: unknown) => ({ error }),
      );
  };
  // The next wave's dry runs go ahead while this wave applies and verifies: they only read. A
  // pass is reused by its host's preflight (the apply checks again if the interfaces, and so the
  // ruleset, changed since); a refusal or an error is tried again there, when it counts.
  const early = new Map<string, Promise<DryRun>>();
  const prefetchedWaves = new Set<number>();
  const prefetchDryRuns = (wave: number) => {
    if (prefetchedWaves.has(wave) || !waves[wave]) return;
    prefetchedWaves.add(wave);
    for (const h of waves[wave].hosts.slice(0, config.concurrency)) if (deps.drivers.get(h)?.dryRun && !early.has(h)) early.set(h, dryRun(h));
  };
  // The before-snapshot of a host, taken once (in preflight; in apply when resumed past it).
  const snapshotsTaken = new Map<string, Promise<string | null>>();
  const takeSnapshot = (host: string): Promise<string | null> => {
    let taken = snapshotsTaken.get(host);
    if (!taken) {
      taken = driver(host)
        .current()
        .then(async (s) => {
          await deps.snapshots.putIfAbsent(host, revision, s);
          return s;
        });
      // A failed snapshot is retried by the next step that needs it.
      taken.catch(() => snapshotsTaken.delete(host));
      snapshotsTaken.set(host, taken);
    }
    return taken;
  };

  // A passing round is what keeps a commit-confirmed host's apply in force: confirm it then.
  const verify = (input: EffectInput) =>
    withTimeout(
      'verification',
      config.timeouts.verify,
      round(input.host).then(async (r) => {
        const d = driver(input.host);
        if (!r.ok || !d.confirm) return r;
        try {
          await d.confirm();
          return r;
        } catch (e) {
          return { ok: false, checks: [...r.checks, { name: 'commit-confirmed', ok: false, detail: (e as Error).message }] };
        }
      }),
    );

  const host = hostMachineWithClock(now).provide({
    actors: {
      preflight: fromPromise<PreflightResult, EffectInput>(async ({ input }) => {
        // The baseline round, the dry run and the before-snapshot do not depend on each other: run
        // them together. The snapshot is taken before any change either way; an unreachable or
        // rejected host keeps one it will not need until the revision's snapshots are discarded.
        // The baseline decides first: a host it finds unreachable is reported as such, whatever
        // the other two ran into; a failed snapshot is taken again by the apply.
        const snapshot = takeSnapshot(input.host).catch(() => undefined);
        const prefetched = early.get(input.host);
        early.delete(input.host);
        const checked = (prefetched ?? Promise.resolve(null))
          .then((r) => (passed(r) ? r : dryRun(input.host)))
          .then((r) => {
            if (passed(r)) dryRunPassed.add(input.host);
            return r;
          });
        const [baseline, tried] = await Promise.all([withTimeout('baseline checks', config.timeouts.verify, round(input.host)), checked, snapshot]);
        const failing = baseline.checks.filter((c) => !c.ok).map((c) => c.name);
        preexisting.set(input.host, new Set(failing.filter((n) => !deps.reachabilityChecks.has(n))));
        const reachable = !failing.some((n) => deps.reachabilityChecks.has(n));
        const checks = baseline.checks.map((c) => (c.ok || deps.reachabilityChecks.has(c.name) ? c : { ...c, preexisting: true }));
        if (!reachable) return { ok: false, checks };
        if ('error' in tried) throw tried.error;
        if (tried.refusal) return { ok: false, checks, rejected: tried.refusal };
        return { ok: true, checks };
      }),
      apply: fromPromise<{ rulesetHash: string }, EffectInput>(async ({ input }) => {
        const d = driver(input.host);
        return withTimeout(
          'apply',
          config.timeouts.apply,
          (async () => {
            // Both must be on disk before the apply; neither needs the other first (a snapshot
            // without its `applying` event is simply found again when the host is retried), so
            // their fsyncs overlap.
            const [interfaces, , before] = await Promise.all([d.readInterfaces(), recorder.flush(), takeSnapshot(input.host)]);
            const known = rulesets.get(input.host)?.ruleset;
            const ruleset = rulesetFor(input.host, interfaces);
            deps.observer?.applying(input.host, ruleset);
            // The dry run vouches for this ruleset only if the interfaces (and so the ruleset) did not change since.
            const report = await d.apply(ruleset, { checked: dryRunPassed.has(input.host) && known === ruleset, before });
            if (report) deps.observer?.applied?.(input.host, report.listing);
            return { rulesetHash: ruleset.hash };
          })(),
        );
      }),
      verify: fromPromise<CheckRound, EffectInput>(({ input }) => verify(input)),
      soak: soakRounds(deps.clock ?? { setTimeout, clearTimeout }, verify),
      restore: fromPromise<{ rulesetHash: string; note?: string }, EffectInput>(async ({ input }) => {
        await recorder.flush();
        const before = await deps.snapshots.get(input.host, revision);
        // No snapshot means the apply never started: the host still holds what it had.
        deps.observer?.applying(input.host, { hash: 'previous', text: before?.snapshot ?? '', program: null });
        const d = driver(input.host);
        // A host the change cut off is reachable again only once its own revert ran.
        const report = before ? await withTimeout('restore', config.timeouts.apply + (d.confirmWindowMs ?? 0), d.restore(before.snapshot)) : undefined;
        return { rulesetHash: before?.snapshot == null ? 'none' : 'previous', ...(report?.note ? { note: report.note } : {}) };
      }),
    },
  });

  if (!resumeFrom?.waves) {
    recorder.record({ type: 'RolloutStarted', revision, key: keyOf('rollout-started'), waves }, () =>
      log.info({ event: 'RolloutStarted', attempt, waves: waves.map((w) => `${w.name}: ${w.hosts.join(', ')}`) }, 'rollout started'),
    );
  } else {
    log.info({ event: 'RolloutResumed', attempt }, 'resuming the interrupted rollout from the event log');
  }

  const lastState = new Map<string, string>();
  const steps = new Map(Object.entries(resumeFrom?.hosts ?? {}).map(([h, p]) => [h, p.steps ?? 0] as const));
  // Host transitions are numbered per host: a state entered again (a run resumed after a crash,
  // an undo) is a new event with its own key, never mistaken for the first one.
  const stepKey = (name: string, what: string) => {
    const n = (steps.get(name) ?? 0) + 1;
    steps.set(name, n);
    return keyOf(`host:${name}:${n}:${what}`);
  };
  const runs = new Set<string>();
  const waveOf = new Map(waves.flatMap((w, i) => w.hosts.map((h) => [h, i] as const)));
  /** A host actor seen for the first time is a new run of the host machine, which starts at `queued`. */
  const beginRun = (id: string, name: string, wave: number) => {
    runs.add(id);
    const prior = lastState.get(name) ?? resumeFrom?.hosts[name]?.state;
    lastState.set(name, 'queued');
    if (prior === undefined || prior === 'queued') return;
    // An undo run of a host already being undone is the undo picked up after a restart.
    const cause = id.startsWith('undo:') && prior === 'confirmed' ? 'undo' : 'restart';
    const reason = cause === 'undo' ? 'undone because a later wave failed' : `the reconciler restarted while the host was in ${prior}`;
    recorder.record({ type: 'HostResumed', revision, key: stepKey(name, `resumed:${prior}`), host: name, wave, from: prior, cause, reason }, () =>
      log.info({ event: 'HostResumed', host: name, wave, from: prior, cause }, `${name}: ${reason}`),
    );
  };
  const record = (id: string, snapshot: unknown) => {
    if (interrupted) return;
    const snap = snapshot as {
      value: string | Record<string, unknown>;
      context: { host: string; reason: string | null; checks: CheckOutcome[]; rulesetHash: string | null; soakUntil: number | null };
    };
    const to = typeof snap.value === 'string' ? snap.value : Object.keys(snap.value)[0]!;
    const { host: name, reason, checks, rulesetHash, soakUntil } = snap.context;
    const wave = waveOf.get(name) ?? 0;
    if (!runs.has(id)) beginRun(id, name, wave);
    const from = lastState.get(name)!;
    if (from === to) return;
    lastState.set(name, to);
    if (to === PREFETCH_NEXT_WAVE_AT) prefetchDryRuns(wave + 1);
    const undo = id.startsWith('undo:');
    // An undo starts with no reason of its own (the host was fine); the log must still say why.
    const why = undo ? `undone because a later wave failed${reason ? `; ${reason}` : ''}` : reason && to !== 'confirmed' ? reason : undefined;
    const failing = checks.filter((c) => !c.ok && !c.preexisting).map((c) => `${c.name}: ${c.detail}`);
    const line = { event: 'HostTransition', host: name, wave, from, to, state: to, ...(why ? { reason: why } : {}), ...(failing.length && to !== 'confirmed' ? { failingChecks: failing } : {}) };
    recorder.record(
      {
        type: 'HostTransition',
        revision,
        key: stepKey(name, `${from}->${to}`),
        host: name,
        wave,
        from,
        to,
        ...(why ? { reason: why } : {}),
        ...(SHOW_CHECKS_ON.has(to) && checks.length ? { checks } : {}),
        ...(rulesetHash && (to === 'verifying' || to === 'verifyingRollback') ? { rulesetHash } : {}),
        ...(to === 'soaking' && soakUntil ? { soakUntil } : {}),
      },
      () => {
        if (to === 'failed') log.error(line, `${name}: ${from} → ${to} — HOST STILL UNREACHABLE AFTER ROLLBACK, needs a person`);
        else if (to === 'rollingBack' || to === 'unreachable' || to === 'rejected') log.warn(line, `${name}: ${from} → ${to}`);
        else log.info(line, `${name}: ${from} → ${to}`);
      },
    );
    if (snap.value === to && (snapshot as { status?: string }).status === 'done') deps.observer?.settled(name, to as HostResult);
  };
  // The pool shows each host's final snapshot before the rollout hears the host is done, so the
  // log keeps causal order: confirmed, then the next wave starts.
  const hosts = hostPool(host, { observe: record, ...(deps.clock ? { clock: deps.clock } : {}) });
  const actor = createActor(rolloutMachine.provide({ actors: { hosts } }), {
    input: {
      revision,
      waves,
      concurrency: config.concurrency,
      maxFailures: budgets,
      onFailure: config.onFailure,
      soakMs: config.soak,
      soakIntervalMs: config.soakInterval,
      ...(resume ? { settled: resume.settled, inFlight: resume.inFlight, confirmedOrder: resume.confirmedOrder, undoing: resume.undoing } : {}),
    },
    ...(deps.clock ? { clock: deps.clock } : {}),
  });

  const done = (async () => {
    const output = await Promise.race([toPromise(actor.start()), stopped]).finally(() => (deps.probers ? undefined : probers.close()));
    recorder.record({
      type: 'RolloutFinished',
      revision,
      key: keyOf('rollout-finished'),
      outcome: output.outcome,
      failedHosts: output.failedHosts,
      durationMs: Math.max(0, now() - started),
    });
    await recorder.flush();
    const summary = { event: 'RolloutFinished', outcome: output.outcome, failedHosts: output.failedHosts };
    if (output.outcome === 'completed' && output.failedHosts.length === 0) log.info(summary, 'rollout completed');
    else log.warn(summary, `rollout ${output.outcome}`);
    return output;
  })();

  return {
    send: (event) => {
      log.info({ event: `Rollout${event.type[0]}${event.type.slice(1).toLowerCase()}Requested` }, `${event.type.toLowerCase()} requested`);
      actor.send(event);
    },
    interrupt: stopRun,
    done,
  };
}
