import { randomBytes } from 'node:crypto';
import type { CheckSpec } from '../checks/check-spec.js';
import { judge } from '../checks/run-checks.js';
import type { Prober } from '../checks/probes/node-probe.js';
import { probe } from '../checks/probes/probe.js';
import { notReached, reached, type ProbeOrigin, type ProbeResult } from '../checks/probes/probe-result.js';
import { NftError, readTable, type NftRunner } from '../dataplane/index.js';
import type { CheckOutcome } from '../eventlog/events.js';
import { withBackoff } from '../backoff.js';
import type { HostDriver, HostInterface, RestoreReport, Ruleset } from './host-driver.js';
import { parseIpAddr } from './nft-host.js';
import { judgeHostKey } from './ssh/known-hosts.js';
import { APPLY_SCRIPT, CONFIRM_SCRIPT, INTERFACES_SCRIPT, NFT_SCRIPT, parseJournalLine, RESTORE_SCRIPT, shCommand, type JournalLine } from './ssh/remote-scripts.js';
import { hostKeyPolicy, SshConnection, SshError, type ExecResult, type SshTarget } from './ssh/ssh-connection.js';

export interface SshHostOptions extends Omit<SshTarget, 'origin' | 'name' | 'address'> {
  /** The management network's namespace: SSH and controller-vantage checks start there (this process's network when null). */
  managementNamespace: string | null;
  /** How long the host keeps an unconfirmed apply before it reverts by itself. */
  confirmMs: number;
  /** Where the host keeps its lock, saved ruleset and journal. */
  stateDir: string;
  /** Longest wait for one command's answer before the connection is presumed dead. */
  commandTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
}

const when = (ms: number) => new Date(ms).toISOString();
const describeRevert = (l: JournalLine) => `the host reverted by itself at ${when(l.at)} (${l.text})${l.event === 'revert-failed' ? ' — BUT ITS RESTORE FAILED' : ''}`;

/**
 * A real host reached over SSH, with nothing installed on it but nft, a POSIX shell and sshd.
 * Every apply is commit-confirmed on the host itself: the host saves its table and arms a
 * detached revert before the new rules go in, and puts the old table back by itself unless
 * `confirm()` reaches it within `confirmMs` — also when the new rules cut this very connection or
 * the reconciler dies (see ssh/remote-scripts.ts). A lock on the host keeps applies from overlapping.
 */
export class SshHost implements HostDriver {
  readonly simulated = false;
  readonly nft: NftRunner;
  readonly confirmWindowMs: number;
  private readonly conn: SshConnection;
  private readonly origin: ProbeOrigin;
  /** The apply this process armed and has not yet confirmed or rolled back. */
  private armed: { id: string; deadline: number } | null = null;
  /** Nothing is armed on the host as far as this process knows (no need to ask before confirming). */
  private idle = false;

  constructor(
    readonly name: string,
    readonly address: string,
    private readonly opts: SshHostOptions,
  ) {
    this.origin = opts.managementNamespace === null ? {} : { namespace: opts.managementNamespace };
    this.conn = new SshConnection({ ...opts, name, address, origin: this.origin }, { connectTimeoutMs: opts.connectTimeoutMs ?? 5000, keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 1000 });
    this.confirmWindowMs = opts.confirmMs;
    this.nft = {
      where: `ssh ${opts.user}@${address}`,
      run: async (args, stdin) => {
        const r = await this.run(NFT_SCRIPT, args, stdin);
        return { code: r.code ?? 255, stdout: r.stdout, stderr: r.stderr };
      },
    };
  }

  private get commandTimeoutMs() {
    return this.opts.commandTimeoutMs ?? 15_000;
  }

  /** One command over the shared connection; a lost or stalled connection is opened again, with backoff. */
  private run(script: string, args: readonly string[], stdin?: string, opts: { signal?: AbortSignal; attempts?: number } = {}): Promise<ExecResult> {
    return withBackoff(() => this.conn.exec(shCommand(script, args), { ...(stdin === undefined ? {} : { stdin }), timeoutMs: this.commandTimeoutMs }), {
      initialMs: 200,
      maxMs: 2000,
      attempts: opts.attempts ?? 3,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  async readInterfaces(): Promise<HostInterface[]> {
    const r = await this.run(INTERFACES_SCRIPT, []);
    if (r.code !== 0) throw new SshError('SSH_REMOTE_FAILED', `${this.name}: ip -j addr show failed (${r.code}): ${r.stderr.trim()}`);
    return parseIpAddr(r.stdout);
  }

  async current(): Promise<string | null> {
    const table = await readTable(this.nft);
    return table === 'absent' ? null : table;
  }

  async dryRun(ruleset: Ruleset): Promise<string | null> {
    const r = await this.nft.run(['-c', '-f', '-'], ruleset.text);
    return r.code === 0 ? null : `nft -c (${this.nft.where}): ${r.stderr.trim()}`;
  }

  /**
   * Arms the host's revert, then applies. Retrying after a lost connection is safe: the host
   * recognises the apply by its id (and a restarted reconciler's by the ruleset), so nothing is
   * applied twice.
   */
  async apply(ruleset: Ruleset): Promise<void> {
    const id = `${ruleset.hash.slice(0, 12)}-${randomBytes(4).toString('hex')}`;
    const seconds = Math.max(1, Math.ceil(this.opts.confirmMs / 1000));
    const r = await this.run(APPLY_SCRIPT, [this.opts.stateDir, id, ruleset.hash, String(seconds)], ruleset.text);
    const where = `ssh ${this.opts.user}@${this.address}`;
    const err = r.stderr.trim();
    switch (r.code) {
      case 0: {
        const [, armedId, deadline] = r.stdout.trim().split(/\s+/);
        this.armed = { id: armedId ?? id, deadline: Number(deadline) * 1000 };
        this.idle = false;
        return;
      }
      case 65:
        throw new NftError('NFT_CHECK_FAILED', 'nft rejected the ruleset in a dry run', err, where);
      case 66:
        throw new NftError('NFT_APPLY_FAILED', 'nft failed to apply the ruleset', err, where);
      case 75:
        throw new SshError('SSH_HOST_LOCKED', `${this.name}: another apply holds the host's lock: ${err}`);
      case 76: {
        const line = parseJournalLine(err);
        throw new SshError('SSH_REVERTED', `${this.name}: ${line ? describeRevert(line) : err} and nothing happened there since: not applying the same ruleset again`);
      }
      default:
        throw new SshError('SSH_REMOTE_FAILED', `${this.name}: arming the apply failed (${r.code}): ${err || r.stdout.trim()}`);
    }
  }

  /**
   * Disarms the host's revert. Also asks a host this process knows nothing about (after a
   * restart), so an apply the host already reverted by itself is found, not taken as confirmed.
   */
  async confirm(): Promise<void> {
    if (!this.armed && this.idle) return;
    const mine = this.armed;
    const r = await this.run(CONFIRM_SCRIPT, [this.opts.stateDir, mine?.id ?? '-']);
    const out = r.stdout.trim();
    if (r.code === 3) {
      this.armed = null;
      this.idle = true;
      const line = parseJournalLine(out);
      throw new SshError('SSH_REVERTED', `${this.name}: confirmed too late: ${line ? describeRevert(line) : out}`);
    }
    if (r.code !== 0) throw new SshError('SSH_REMOTE_FAILED', `${this.name}: confirming failed (${r.code}): ${r.stderr.trim()}`);
    if (mine && out === 'none') throw new SshError('SSH_REVERTED', `${this.name}: apply ${mine.id} is no longer armed on the host (rolled back by someone else?)`);
    this.armed = null;
    this.idle = true;
  }

  /**
   * The rollback. When the change cut SSH, the host is unreachable until its own revert has run:
   * this keeps reconnecting (with backoff) until the armed deadline has passed, then learns from
   * the host's journal that it reverted, and records that.
   */
  async restore(snapshot: string | null): Promise<RestoreReport | void> {
    const deadline = (this.armed?.deadline ?? (this.idle ? Date.now() : Date.now() + this.opts.confirmMs)) + this.commandTimeoutMs + 5000;
    const r = await this.run(RESTORE_SCRIPT, [this.opts.stateDir], snapshot ?? '', { signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())), attempts: Infinity });
    if (r.code !== 0) {
      const what = r.code === 75 ? 'another apply holds the host\'s lock' : `rollback failed (${r.code})`;
      throw new SshError(r.code === 75 ? 'SSH_HOST_LOCKED' : 'SSH_REMOTE_FAILED', `${this.name}: ${what}: ${r.stderr.trim()}`);
    }
    const mine = this.armed;
    this.armed = null;
    this.idle = true;
    const found = parseJournalLine(r.stdout.trim().replace(/^found ?/, ''));
    const selfReverted = found && (found.event === 'reverted' || found.event === 'revert-failed') && (!mine || found.id === mine.id);
    return selfReverted ? { note: describeRevert(found) } : undefined;
  }

  /**
   * Controller vantage: from the management network; an `ssh` check does a full handshake
   * against the known-hosts file (banner only for a target it has no key for). Host vantage:
   * from the host itself, through its sshd (`tcp`); other kinds need tools a bare host lacks.
   */
  warmUp(prober: Prober): void {
    prober.warm?.(this.origin);
  }

  async check(check: CheckSpec, prober?: Prober): Promise<CheckOutcome> {
    if (check.vantage === 'host') return this.hostCheck(check);
    const target = check.target ?? this.address;
    let hostKeys;
    if (check.kind === 'ssh') {
      const policy = await hostKeyPolicy({ ...this.opts, name: this.name, address: target, port: check.port, origin: this.origin });
      if (policy.known.keys.length || policy.known.revoked.length) {
        const shown = `${this.name} (${target}:${check.port})`;
        hostKeys = {
          algorithms: policy.algorithms,
          judge: (offered: Buffer) => {
            const v = judgeHostKey(policy.known, offered, shown, this.opts.knownHostsFile);
            return v.ok ? null : v.message;
          },
        };
      }
    }
    const result = await probe(check, target, this.origin, prober, hostKeys ? { hostKeys } : {});
    return judge(check, result, `from management to ${this.name} (${target})${hostKeys ? ' [handshake]' : ''}`);
  }

  private async hostCheck(check: CheckSpec): Promise<CheckOutcome> {
    const where = `from ${this.name} to ${check.target ?? '?'}`;
    if (check.target === undefined) return { name: check.name, ok: false, detail: 'a host-vantage check needs a target address' };
    if (check.kind !== 'tcp') {
      return judge(check, { open: false, ms: 0, error: `${check.kind} checks from an ssh host are not supported (only tcp, through its sshd)`, inconclusive: 'PROBE_TOOL_MISSING' }, where);
    }
    return judge(check, await this.tcpFromHost(check.target, check.port, check.timeoutMs), where);
  }

  private async tcpFromHost(target: string, port: number, timeoutMs: number): Promise<ProbeResult> {
    const t0 = Date.now();
    try {
      const stream = await this.conn.forwardOut(target, port, timeoutMs);
      stream.destroy();
      return reached(Date.now() - t0);
    } catch (e) {
      if (e instanceof SshError) return { open: false, ms: Date.now() - t0, error: e.message, inconclusive: 'PROBE_BAD_OUTPUT' };
      return notReached(Date.now() - t0, (e as Error).message);
    }
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
