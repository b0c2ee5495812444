import { backoffDelay } from '../backoff.js';
import type { Watcher } from 'etcd3';
import { CheckSpec } from '../checks/check-spec.js';
import type { EtcdClient, KeyValue } from '../etcd/client.js';
import { hostKey, hostPrefix } from '../etcd/keys.js';
import { getRuleset, putRuleset, splitRuleset } from '../etcd/rulesets.js';
import type { CheckOutcome } from '../eventlog/events.js';
import type { HostInterface } from '../hosts/host-driver.js';
import type { Logger } from '../log/logger.js';
import type { AgentDataplane } from './dataplane.js';
import { AgentStatus, Confirm, Desired, type RulesetRef } from './protocol.js';
import { loadAgentState, saveAgentState, type AgentDiskState } from './state-file.js';

export interface AgentOptions {
  node: string;
  etcd: EtcdClient;
  dataplane: AgentDataplane;
  stateDir: string;
  logger: Logger;
  /** Runs one host-vantage check from this host. */
  probe(check: CheckSpec): Promise<CheckOutcome>;
  readInterfaces(): Promise<HostInterface[]>;
  /** Liveness lease TTL in seconds. Default 5. */
  leaseTtlS?: number;
  now?: () => number;
}

export interface AgentStats {
  applies: number;
  reverts: number;
  relists: number;
}

/**
 * A host agent: lists then watches its keys under `/palisade/v1/hosts/<node>/`, applies each
 * new desired generation once, commit-confirmed. Before an apply it persists the pending apply
 * with its deadline and arms a timer; a confirmation for that generation makes it the new last
 * good ruleset, the deadline passing (the new rules cut the way to etcd, or the reconciler
 * died) puts the last good table back — from disk, without etcd. All work runs one item at a
 * time, in the order it arrived.
 */
export class Agent {
  readonly stats: AgentStats = { applies: 0, reverts: 0, relists: 0 };
  private state!: AgentDiskState;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private watcher: Watcher | null = null;
  private stopped = false;
  private readonly abort = new AbortController();
  private statusToWrite: AgentStatus | null = null;
  private statusWriter: Promise<void> | null = null;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly listeners = new Set<(s: AgentStatus) => void>();

  constructor(private readonly opts: AgentOptions) {
    this.log = opts.logger.child({ host: opts.node });
    this.now = opts.now ?? Date.now;
  }

  /** Recovers from disk (reverting an unconfirmed apply), then connects; returns once recovered. */
  async start(): Promise<void> {
    this.state = await loadAgentState(this.opts.stateDir);
    if (this.state.pending) {
      await this.revert(`agent restarted inside the confirm window of generation ${this.state.pending.generation}; reverted on start`);
    }
    if (!this.state.good) {
      // First start: whatever the host has now is the baseline a first apply reverts to.
      const text = await this.opts.dataplane.read();
      this.state.good = { ruleset: text === 'absent' ? null : refOf(text), text };
      await this.save();
    }
    if (this.state.unreported) {
      const u = this.state.unreported;
      this.report({ generation: u.generation, state: 'reverted', ruleset: u.ruleset, reason: u.reason });
    } else this.report({ generation: this.state.lastGeneration, state: 'idle', ruleset: this.state.good.ruleset });
    void this.background('liveness', () => this.keepAlive());
    void this.background('sync', () => this.sync());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.cancel().catch(() => undefined);
    await this.queue;
  }

  /** Called with every status the agent reports (tests, the CLI's log). */
  onStatus(listener: (s: AgentStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(work).catch((e: unknown) => {
      this.log.error({ event: 'AgentError', code: (e as { code?: string }).code }, `agent: ${(e as Error).message}`);
    });
    return this.queue;
  }

  /** Runs `fn` until it resolves or the agent stops, backing off (≤ 2 s) after each failure. */
  private async background(what: string, fn: () => Promise<void>): Promise<void> {
    for (let failures = 0; !this.stopped; failures++) {
      try {
        await fn();
        return;
      } catch (e) {
        if (this.stopped) return;
        if (failures % 10 === 0) this.log.warn({ event: 'AgentRetry', what, code: (e as { code?: string }).code }, `${what}: ${(e as Error).message}; retrying`);
        await this.sleep(backoffDelay(failures + 1, 100, 2000, Math.random));
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.abort.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }

  /** List, then watch from the listing's revision; a cancelled watch (compaction) lists again. */
  private async sync(): Promise<void> {
    const { etcd, node } = this.opts;
    const facts = { agent: `palisade-agent pid ${process.pid}`, interfaces: await this.opts.readInterfaces() };
    await etcd.put(hostKey(node, 'facts'), JSON.stringify(facts));
    // The baseline table may exist nowhere else: store it so the reconciler can restore it.
    if (this.state.good?.ruleset && this.state.good.text !== 'absent') await putRuleset(etcd, this.state.good.text);
    const { kvs, revision } = await etcd.list(hostPrefix(node));
    this.stats.relists++;
    // Desired before confirm, whatever the key order: a confirmation refers to an apply.
    const byName = new Map(kvs.map((kv) => [kv.key.slice(hostPrefix(node).length), kv]));
    for (const name of ['desired', 'confirm'] as const) {
      const kv = byName.get(name);
      if (kv) void this.enqueue(() => this.onKey(name, kv));
    }
    if (this.stopped) return;
    const watcher = await etcd.client.watch().prefix(hostPrefix(node)).startRevision(String(BigInt(revision) + 1n)).create();
    this.watcher = watcher;
    watcher.on('put', (raw) => {
      const name = raw.key.toString().slice(hostPrefix(node).length);
      if (name !== 'desired' && name !== 'confirm') return;
      const kv: KeyValue = { key: raw.key.toString(), value: raw.value.toString(), createRevision: raw.create_revision, modRevision: raw.mod_revision, lease: raw.lease };
      void this.enqueue(() => this.onKey(name, kv));
    });
    watcher.on('error', (e: Error) => {
      // etcd3 resumes dropped streams itself; an error means the watcher is gone — most often
      // because the revision it would resume from was compacted. Listing again converges.
      if (this.watcher !== watcher || this.stopped) return;
      this.watcher = null;
      this.log.warn({ event: 'WatchCancelled' }, `watch on ${hostPrefix(node)} ended (${e.message}); listing again`);
      void watcher.cancel().catch(() => undefined);
      void this.background('sync', () => this.sync());
    });
  }

  private async onKey(name: 'desired' | 'confirm', kv: KeyValue): Promise<void> {
    if (this.stopped) return;
    if (name === 'confirm') return this.onConfirm(Confirm.parse(JSON.parse(kv.value)).generation);
    const generation = kv.modRevision;
    if (this.state.lastGeneration !== null && BigInt(generation) <= BigInt(this.state.lastGeneration)) return;
    try {
      await this.onDesired(generation, Desired.parse(JSON.parse(kv.value)));
    } catch (e) {
      // Failed before anything was applied (the ruleset could not be fetched): nothing else
      // would bring this generation back, so try it again — after whatever is queued meanwhile.
      if (this.state.lastGeneration !== generation && !this.stopped) {
        this.log.warn({ event: 'AgentRetry', generation, code: (e as { code?: string }).code }, `desired generation ${generation} not handled (${(e as Error).message}); retrying in 1 s`);
        setTimeout(() => void this.enqueue(() => this.onKey('desired', kv)), 1000).unref();
        return;
      }
      throw e;
    }
  }

  private async onDesired(generation: string, desired: Desired): Promise<void> {
    const { dataplane } = this.opts;
    const text = desired.ruleset ? await getRuleset(this.opts.etcd, desired.ruleset) : null;
    const ruleset = desired.ruleset;
    const log = this.log.child({ label: desired.label, generation });

    if (desired.kind === 'restore') {
      await dataplane.restore(text ?? 'absent');
      this.disarm();
      this.state = { ...this.state, good: { ruleset, text: await dataplane.read() }, pending: null, lastGeneration: generation };
      await this.save();
      log.info({ event: 'AgentRestored' }, 'restored the ruleset the reconciler asked for');
      this.report({ generation, state: 'confirmed', ruleset, reason: 'restore' });
      return;
    }

    // Persisted before nft runs: if this process dies from here on, the next start reverts.
    const deadline = this.now() + desired.confirmMs;
    this.state = { ...this.state, pending: { generation, label: desired.label, ruleset, deadline }, lastGeneration: generation };
    await this.save();
    this.arm(deadline);
    try {
      if (text === null) await dataplane.restore('absent');
      else await dataplane.apply(text);
      this.stats.applies++;
    } catch (e) {
      this.disarm();
      // nft applies all-or-nothing: the table is what it was. Putting back the last good one is
      // still right when an earlier unconfirmed apply is what the table holds.
      await dataplane.restore(this.state.good!.text);
      this.state = { ...this.state, pending: null };
      await this.save();
      log.error({ event: 'AgentApplyFailed', code: (e as { code?: string }).code }, `apply failed: ${(e as Error).message}`);
      this.report({ generation, state: 'failed', ruleset: this.state.good!.ruleset, reason: `apply failed: ${(e as Error).message}` });
      return;
    }
    const checks = await Promise.all(this.hostChecks(desired).map((c) => this.opts.probe(c)));
    const failed = checks.filter((c) => !c.ok);
    if (failed.length > 0) {
      await this.revert(`host checks failed after apply: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')}`, checks);
      return;
    }
    log.info({ event: 'AgentApplied', confirmWithinMs: desired.confirmMs }, 'applied; waiting for confirmation');
    this.report({ generation, state: 'pending', ruleset, checks });
  }

  private hostChecks(desired: Desired): CheckSpec[] {
    return desired.checks.map((c) => CheckSpec.parse(c)).filter((c) => c.vantage === 'host');
  }

  private async onConfirm(generation: string): Promise<void> {
    const pending = this.state.pending;
    if (!pending || pending.generation !== generation) return;
    this.disarm();
    this.state = { ...this.state, good: { ruleset: pending.ruleset, text: await this.opts.dataplane.read() }, pending: null };
    await this.save();
    this.log.info({ event: 'AgentConfirmed', generation, label: pending.label }, 'confirmed');
    this.report({ generation, state: 'confirmed', ruleset: pending.ruleset });
  }

  private arm(deadline: number): void {
    this.disarm();
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.enqueue(async () => {
        const p = this.state.pending;
        if (p && p.deadline <= this.now()) await this.revert(`no confirmation within the confirm window of generation ${p.generation}; reverted to the last good ruleset`);
      });
    }, Math.max(0, deadline - this.now()));
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Puts the last good table back, from disk, and reports it (now, or once etcd answers again). */
  private async revert(reason: string, checks?: CheckOutcome[]): Promise<void> {
    const pending = this.state.pending!;
    this.disarm();
    await this.opts.dataplane.restore(this.state.good?.text ?? 'absent');
    this.stats.reverts++;
    const ruleset = this.state.good?.ruleset ?? null;
    this.state = { ...this.state, pending: null, unreported: { generation: pending.generation, reason, ruleset } };
    await this.save();
    this.log.warn({ event: 'AgentReverted', generation: pending.generation, label: pending.label }, reason);
    this.report({ generation: pending.generation, state: 'reverted', ruleset, reason, ...(checks ? { checks } : {}) });
  }

  /** Latest status wins; written in the background, retried until etcd takes it. */
  private report(status: Omit<AgentStatus, 'time'>): void {
    const full: AgentStatus = { ...status, time: new Date(this.now()).toISOString() };
    for (const l of this.listeners) l(full);
    this.statusToWrite = full;
    this.writeStatus();
  }

  private writeStatus(): void {
    this.statusWriter ??= this.background('status', async () => {
      while (this.statusToWrite) {
        const s = this.statusToWrite;
        await this.opts.etcd.put(hostKey(this.opts.node, 'status'), JSON.stringify(s));
        if (this.statusToWrite === s) this.statusToWrite = null;
        if (s.state === 'reverted' && this.state.unreported?.generation === s.generation) {
          this.state = { ...this.state, unreported: null };
          await this.save();
        }
      }
    }).finally(() => {
      this.statusWriter = null;
      // A status queued while the last write was finishing.
      if (this.statusToWrite && !this.stopped) this.writeStatus();
    });
  }

  /** Liveness: `/alive` attached to a lease the client keeps alive; a lost lease is granted again. */
  private async keepAlive(): Promise<void> {
    const ttl = this.opts.leaseTtlS ?? 5;
    while (!this.stopped) {
      const lease = this.opts.etcd.client.lease(ttl, { autoKeepAlive: true });
      const lost = new Promise<void>((resolve) => lease.on('lost', () => resolve()));
      try {
        await lease.put(hostKey(this.opts.node, 'alive')).value(JSON.stringify({ pid: process.pid, since: new Date().toISOString() }));
        await Promise.race([lost, new Promise((r) => this.abort.signal.addEventListener('abort', r, { once: true }))]);
      } catch {
        await this.sleep(500);
      } finally {
        if (this.stopped) await lease.revoke().catch(() => undefined);
        else lease.release();
      }
    }
  }

  private save(): Promise<void> {
    return saveAgentState(this.opts.stateDir, this.state);
  }
}

/** The reference under which a listed table is stored in etcd. */
function refOf(text: string): RulesetRef {
  const { hash, parts } = splitRuleset(text);
  return { hash, parts: parts.length };
}
