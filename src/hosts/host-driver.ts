import type { CheckOutcome } from '../eventlog/events.js';
import type { CheckSpec } from '../checks/check-spec.js';
import type { NftRunner } from '../dataplane/nft-runner.js';
import type { Prober } from '../checks/probes/node-probe.js';

/** An interface of a host as read at apply time (which HEP governs it depends on this). */
export interface HostInterface {
  name: string;
  addresses: string[];
}

/** A compiled ruleset ready for one host: the nft text, its hash, and the IR it came from. */
export interface Ruleset {
  hash: string;
  text: string;
  /** The compiled per-host program; the simulated host evaluates packets against it. */
  program: unknown;
}

/** What a rollback found on the host, worth recording with the transition (e.g. that it had reverted by itself). */
export interface RestoreReport {
  note?: string;
}

/**
 * Everything the rollout needs from a host, and nothing more: the lab-namespace host, the
 * simulated host and (later) the agent-backed host implement it.
 * `current()` returns an opaque snapshot of what Palisade's table holds now (`null`: no table),
 * which `restore()` puts back exactly.
 */
export interface ApplyReport {
  /** The table as the host listed it right after the apply, when the driver read it back. */
  listing: string;
}

export interface HostDriver {
  readonly name: string;
  /** The address the management network reaches the host at. */
  readonly address: string;
  readonly simulated: boolean;
  readInterfaces(): Promise<HostInterface[]>;
  current(): Promise<string | null>;
  /**
   * `known`: what the rollout already established for this host — the ruleset passed `dryRun`,
   * and the table it held just before (its before-snapshot) — so the driver need not ask again.
   */
  apply(ruleset: Ruleset, known?: { checked: boolean; before: string | null }): Promise<ApplyReport | void>;
  /** Asks the host whether it would accept the ruleset (e.g. `nft -c`); the reason when not. */
  dryRun?(ruleset: Ruleset): Promise<string | null>;
  restore(snapshot: string | null): Promise<RestoreReport | void>;
  /**
   * Commit-confirmed hosts: the last apply stays in force only once confirmed (after a passing
   * verify round); throws when the host already reverted it by itself.
   */
  confirm?(): Promise<void>;
  /** How long such a host waits for `confirm()` before reverting: a rollback may have to outwait it. */
  readonly confirmWindowMs?: number;
  /** Releases connections (SSH hosts). */
  close?(): Promise<void>;
  /** Hosts Palisade drives with nft directly: the runner, so drift can be watched. */
  readonly nft?: NftRunner;
  /** Runs one check; socket probes go through `prober` (the rollout's warm one) when given. */
  check(check: CheckSpec, prober?: Prober): Promise<CheckOutcome>;
  /** Starts `prober`'s helpers for the vantages this host's checks run from, ahead of the first check. */
  warmUp?(prober: Prober): void;
}
