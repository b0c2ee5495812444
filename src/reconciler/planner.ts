import { CheckSpec, SSH_FAILSAFE_CHECK } from '../checks/check-spec.js';
import { compileHostIn } from '../compiler/compile.js';
import type { CompileCache } from '../compiler/cache.js';
import { CompileContext } from '../compiler/context.js';
import { renderNft, rulesetHash } from '../dataplane/index.js';
import type { ResourceChange, Wave } from '../eventlog/events.js';
import type { HostInterface, Ruleset } from '../hosts/host-driver.js';
import type { PolicyRepository } from '../repository/repository.js';
import { fleetOf, resolveWaves, waveFailureBudgets, type RolloutConfig } from '../rollout/rollout-config.js';
import type { DesiredState } from '../state/desired-state.js';
import type { ReconcilerState } from '../state/projections.js';
import { diffResources } from '../state/resource-diff.js';

/**
 * The revision planner: pure calculation from a revision's desired state to what its rollout
 * needs — the waves, each wave's failure budget, the checks, and every host's ruleset. Nothing
 * here touches a host, the log or Git.
 */

export interface FailsafeOptions {
  /**
   * The checks that are always on, before the repository's own; their failure at baseline means
   * a host is unreachable. Default: SSH from the management network.
   */
  failsafeChecks?: readonly CheckSpec[];
  /**
   * Where the hosts' own feed lives (every etcd member, `host:port`), checked from every host as
   * a failsafe: the path is there when the host reaches any one of them.
   */
  feedEndpoints?: readonly { host: string; port: number }[];
}

export interface RevisionPlan {
  waves: Wave[];
  budgets: number[];
  /** Every check a host runs, the failsafe ones first. */
  checks: CheckSpec[];
  /** Names of the checks whose failure at baseline means the host is unreachable. */
  reachability: Set<string>;
  /** A host's ruleset with the interfaces it has now. */
  rulesetFor(host: string, interfaces: HostInterface[]): Ruleset;
}

export interface PlanInput {
  desired: DesiredState;
  config: RolloutConfig;
  /** Hosts of the hosts file. */
  hosts: readonly string[];
  /** Waves already recorded for this revision (a resumed rollout keeps them). */
  waves: Wave[] | null;
  failsafe: FailsafeOptions;
  /** Outlives revisions: an unchanged policy is compiled once however many commits it appears in. */
  compileCache: CompileCache;
}

export function planRevision({ desired, config, hosts, waves: recorded, failsafe, compileCache }: PlanInput): RevisionPlan {
  const waves = recorded ?? resolveWaves(config, fleetOf(desired, hosts));
  // Parsed endpoints and selector members are the same for every host of the revision.
  compileCache.rotate();
  const context = new CompileContext(desired, compileCache);
  return { waves, budgets: waveFailureBudgets(config, waves), ...checksOf(config, failsafe), rulesetFor: (host, interfaces) => rulesetFor(context, host, interfaces) };
}

/** A host's ruleset in a revision; `context` is prepared once per revision and shared by its hosts. */
export function rulesetFor(context: CompileContext, host: string, interfaces: HostInterface[]): Ruleset {
  const program = compileHostIn(context, { node: host, interfaces });
  const text = renderNft(program);
  return { program, text, hash: rulesetHash(text) };
}

/**
 * The always-on failsafe checks (SSH from the management network; each host's path to the
 * feed it is configured from).
 */
export function failsafeChecks(opts: FailsafeOptions): CheckSpec[] {
  const failsafe = [...(opts.failsafeChecks ?? [SSH_FAILSAFE_CHECK])];
  const [first, ...more] = opts.feedEndpoints ?? [];
  if (first) {
    const anyOf = more.length ? { anyOf: [first, ...more].map((e) => ({ target: e.host, port: e.port })) } : {};
    failsafe.push(CheckSpec.parse({ name: 'path-to-feed', kind: 'tcp', vantage: 'host', target: first.host, port: first.port, ...anyOf }));
  }
  return failsafe;
}

/** The failsafe checks followed by the repository's declared ones (a declared check never replaces a failsafe one). */
function checksOf(config: RolloutConfig, opts: FailsafeOptions): { checks: CheckSpec[]; reachability: Set<string> } {
  const failsafe = failsafeChecks(opts);
  const names = new Set(failsafe.map((c) => c.name));
  const reachability = new Set((opts.failsafeChecks ?? [SSH_FAILSAFE_CHECK]).map((c) => c.name));
  return { checks: [...failsafe, ...config.checks.filter((c) => !names.has(c.name))], reachability };
}

/** What changed between the resources recorded so far and a revision's, as the event records it. */
export function resourceChanges(current: ReconcilerState['resources'], next: PolicyRepository['resources']): ResourceChange[] {
  return diffResources(current, next).map((d) =>
    d.after ? { key: d.key, change: d.change, file: d.after.source.file, resource: d.after.resource, source: d.after.source } : { key: d.key, change: d.change, file: d.before!.source.file },
  );
}
