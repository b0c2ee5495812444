import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import { probe } from '../checks/probes/probe.js';
import type { Prober } from '../checks/probes/node-probe.js';
import { AgentStatus, Desired, Facts, RulesetRef } from '../agent/protocol.js';
import type { EtcdClient } from '../etcd/client.js';
import { hostKey } from '../etcd/keys.js';
import { fencedPut, type Fence, type PutWriter } from '../etcd/fence.js';
import { directHostKeys, type HostKeyReader } from '../etcd/host-feed.js';
import { RulesetWriter } from '../etcd/rulesets.js';
import type { CheckOutcome } from '../eventlog/events.js';
import type { HostDriver, HostInterface, Ruleset } from './host-driver.js';

export type AgentHostErrorCode = 'AGENT_UNKNOWN' | 'AGENT_TIMEOUT' | 'AGENT_REVERTED' | 'AGENT_APPLY_FAILED';

export class AgentHostError extends Error {
  override readonly name = 'AgentHostError';
  constructor(
    readonly code: AgentHostErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface AgentHostOptions {
  etcd: EtcdClient;
  /** The management network's namespace, for controller-vantage checks (this process when null). */
  managementNamespace: string | null;
  /** How long the agent keeps an unconfirmed apply. Must cover apply + the verify round. */
  confirmMs: number;
  /** How long `apply`/`restore` wait for the agent's answer. Default: confirm window + 10 s. */
  answerTimeoutMs?: number;
  /** The host's checks (read at each apply). Host-vantage ones travel with the desired state and run on the agent. */
  checks(): readonly CheckSpec[];
  /**
   * Confirm by itself once every one of `checks` has passed since the apply (what a passing
   * verify round means). Off when the rollout calls `confirm()` explicitly.
   */
  autoConfirm?: boolean;
  /** The leader's fence: desired and confirm writes fail once this reconciler is deposed. */
  fence?: Fence;
  /**
   * How the host's keys are read (default: a read per question, a watch per answer); the
   * leader shares one prefix watch over every host (HostKeyFeed).
   */
  keys?: HostKeyReader;
  /** How desired and confirm keys are written (default: a fenced put each); the leader batches them. */
  write?: PutWriter;
  /** How rulesets are stored (default: through `write`, each once per host); the leader shares one per term. */
  rulesets?: RulesetWriter;
}

/**
 * The reconciler's side of a host that runs `palisade agent`: everything goes through etcd.
 * `apply` stores the ruleset by content hash, writes the host's desired key and waits until
 * the agent reports it applied (pending confirmation); `confirm` writes the confirmation the
 * agent waits for. Re-applying the ruleset the agent already holds (a standby leader resuming
 * a rollout) writes nothing, so no host applies the same change twice.
 */
export class AgentHost implements HostDriver {
  readonly simulated = false;
  /** The generation applied last and not yet confirmed, with the checks still to pass. */
  private awaiting: { generation: string; remaining: Set<string> } | null = null;
  private lastConfirmed: string | null = null;
  /**
   * Why the last apply is not in force (the agent reverted it before the confirmation counted).
   * Kept until the next apply or restore, so a retried check or a later `confirm()` cannot pass
   * for a host that runs the old rules.
   */
  private lost: string | null = null;
  private readonly keys: HostKeyReader;
  private readonly write: PutWriter;
  private readonly rulesets: RulesetWriter;

  constructor(
    readonly name: string,
    readonly address: string,
    private readonly opts: AgentHostOptions,
  ) {
    this.keys = opts.keys ?? directHostKeys(opts.etcd);
    this.write = opts.write ?? ((key, value) => fencedPut(opts.etcd, key, value, opts.fence));
    this.rulesets = opts.rulesets ?? new RulesetWriter(opts.etcd, this.write);
  }

  async readInterfaces(): Promise<HostInterface[]> {
    const kv = await this.keys.get(this.name, 'facts');
    if (!kv) throw this.unknown(hostKey(this.name, 'facts'));
    return Facts.parse(JSON.parse(kv.value)).interfaces;
  }

  async current(): Promise<string | null> {
    const status = await this.status();
    if (!status) throw this.unknown(hostKey(this.name, 'status'));
    return status.status.ruleset ? JSON.stringify(status.status.ruleset) : null;
  }

  async apply(ruleset: Ruleset): Promise<void> {
    this.lost = null;
    const ref = await this.rulesets.put(ruleset.text, ruleset.hash);
    const desiredKv = await this.keys.get(this.name, 'desired');
    const desired = desiredKv ? Desired.parse(JSON.parse(desiredKv.value)) : null;
    let generation: string;
    if (desiredKv && desired?.kind === 'apply' && desired.ruleset?.hash === ref.hash && (await this.stillValid(desiredKv.modRevision))) {
      // Written before (by this or a previous leader) and not reverted: wait for that one.
      generation = desiredKv.modRevision;
    } else {
      const value: Desired = { kind: 'apply', label: ruleset.hash.slice(0, 12), ruleset: ref, confirmMs: this.opts.confirmMs, checks: this.opts.checks().filter((c) => c.vantage === 'host') };
      generation = await this.write(hostKey(this.name, 'desired'), JSON.stringify(value));
    }
    const status = await this.answer(generation, 'apply');
    if (status.state === 'reverted') throw new AgentHostError('AGENT_REVERTED', `${this.name}: the agent reverted generation ${generation}: ${status.reason ?? 'no reason given'}`);
    if (status.state === 'failed') {
      // The agent may have failed to read the stored ruleset back: the next apply writes it again.
      this.rulesets.forget(ref.hash);
      throw new AgentHostError('AGENT_APPLY_FAILED', `${this.name}: ${status.reason ?? 'the agent could not apply the ruleset'}`);
    }
    this.awaiting = status.state === 'pending' ? { generation, remaining: new Set(this.opts.checks().map((c) => c.name)) } : null;
    if (this.awaiting && (this.opts.autoConfirm ?? true) && this.awaiting.remaining.size === 0) await this.confirm();
  }

  /**
   * Confirms the last apply (no-op when there is none waiting) and waits for the agent to
   * acknowledge it: a confirmation that arrives after the agent reverted — its 'pending' status
   * may even reach etcd after the revert, once a cut path heals — fails with AGENT_REVERTED.
   */
  async confirm(): Promise<void> {
    const a = this.awaiting;
    if (!a) {
      if (this.lost) throw new AgentHostError('AGENT_REVERTED', this.lost);
      return;
    }
    this.awaiting = null;
    this.lastConfirmed = a.generation;
    await this.write(hostKey(this.name, 'confirm'), JSON.stringify({ generation: a.generation }));
    const status = await this.answer(a.generation, 'confirmation', (s) => s.state === 'confirmed' || s.state === 'reverted' || s.state === 'failed');
    if (status.state !== 'confirmed') {
      this.lost = `${this.name}: confirmed too late, the agent had already reverted generation ${a.generation}: ${status.reason ?? status.state}`;
      throw new AgentHostError('AGENT_REVERTED', this.lost);
    }
  }

  async restore(snapshot: string | null): Promise<void> {
    this.awaiting = null;
    this.lost = null;
    const ruleset = snapshot === null ? null : RulesetRef.parse(JSON.parse(snapshot));
    const value: Desired = { kind: 'restore', label: 'rollback', ruleset, confirmMs: this.opts.confirmMs, checks: [] };
    const generation = await this.write(hostKey(this.name, 'desired'), JSON.stringify(value));
    const status = await this.answer(generation, 'restore');
    if (status.state !== 'confirmed') throw new AgentHostError('AGENT_APPLY_FAILED', `${this.name}: the agent could not restore the previous ruleset: ${status.reason ?? status.state}`);
  }

  async check(check: CheckSpec, prober?: Prober): Promise<CheckOutcome> {
    const outcome = check.vantage === 'host' ? await this.hostCheck(check) : await this.controllerCheck(check, prober);
    if (outcome.ok && this.lost) return { ...outcome, ok: false, detail: `${outcome.detail}; but the apply is not in force: ${this.lost}` };
    if (!outcome.ok || !(this.opts.autoConfirm ?? true)) return outcome;
    const a = this.awaiting ?? (await this.adoptPending());
    if (a) {
      a.remaining.delete(check.name);
      if (a.remaining.size === 0) {
        try {
          await this.confirm();
        } catch (e) {
          return { ...outcome, ok: false, detail: `${outcome.detail}; but the apply is not in force: ${(e as Error).message}` };
        }
      }
    }
    return outcome;
  }

  /**
   * A standby that took over mid-rollout verifies an apply the previous leader made: the
   * agent's pending generation (still the desired one) is adopted, so passing checks confirm it.
   */
  private async adoptPending(): Promise<{ generation: string; remaining: Set<string> } | null> {
    const [s, desired] = await Promise.all([this.status(), this.keys.get(this.name, 'desired')]);
    const g = s?.status.generation;
    if (!s || s.status.state !== 'pending' || !desired || g !== desired.modRevision || g === this.lastConfirmed) return null;
    this.awaiting = { generation: g, remaining: new Set(this.opts.checks().map((c) => c.name)) };
    return this.awaiting;
  }

  warmUp(prober: Prober): void {
    const ns = this.opts.managementNamespace;
    prober.warm?.(ns ? { namespace: ns } : {});
  }

  private async controllerCheck(check: CheckSpec, prober?: Prober): Promise<CheckOutcome> {
    const target = check.target ?? this.address;
    const ns = this.opts.managementNamespace;
    return judge(check, await probe(check, target, ns ? { namespace: ns } : {}, prober), `from management to ${this.name} (${target})`);
  }

  /** Host-vantage checks run on the agent after each apply; here their reported outcome is read. */
  private async hostCheck(check: CheckSpec): Promise<CheckOutcome> {
    const s = await this.status();
    const reported = s?.status.checks?.find((c) => c.name === check.name);
    if (reported && s?.status.state !== 'reverted') return reported;
    return { name: check.name, ok: true, detail: `host-vantage check runs on the agent of ${this.name} after each apply (it reverts at once when it fails); no result to read yet` };
  }

  private async status(): Promise<{ status: AgentStatus; modRevision: string } | null> {
    const kv = await this.keys.get(this.name, 'status');
    return kv ? { status: AgentStatus.parse(JSON.parse(kv.value)), modRevision: kv.modRevision } : null;
  }

  /** The desired generation was not reverted or refused (the agent may not have seen it yet). */
  private async stillValid(generation: string): Promise<boolean> {
    const s = await this.status();
    return !(s && s.status.generation === generation && (s.status.state === 'reverted' || s.status.state === 'failed'));
  }

  private async answer(generation: string, what: 'apply' | 'restore' | 'confirmation', done: (s: AgentStatus) => boolean = (s) => s.state !== 'idle'): Promise<AgentStatus> {
    const timeoutMs = this.opts.answerTimeoutMs ?? this.opts.confirmMs + 10_000;
    const status = await this.keys.wait(
      this.name,
      'status',
      (kv) => {
        if (!kv) return undefined;
        const s = AgentStatus.parse(JSON.parse(kv.value));
        return s.generation === generation && done(s) ? s : undefined;
      },
      timeoutMs,
    );
    if (status) return status;
    const alive = await this.keys.get(this.name, 'alive');
    throw new AgentHostError(
      'AGENT_TIMEOUT',
      `${this.name}: no answer from the agent to the ${what} (generation ${generation}) within ${timeoutMs} ms; its liveness key is ${alive ? 'present (the agent runs but did not report: is its path to etcd cut?)' : 'absent (is palisade agent running on the host?)'}`,
    );
  }

  private unknown(key: string): AgentHostError {
    return new AgentHostError('AGENT_UNKNOWN', `${this.name}: no agent has reported (${key} is missing); start 'palisade agent --node ${this.name} --store etcd://…' on the host`);
  }
}

export const isAgentHostError = (e: unknown, code?: AgentHostErrorCode): e is AgentHostError =>
  e instanceof AgentHostError && (code === undefined || e.code === code);
