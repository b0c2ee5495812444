import { fleetOf, resolveWaves, type RolloutConfig } from '../rollout/rollout-config.js';
import type { DesiredState } from '../state/desired-state.js';
import type { WavePreview } from './plan-report.js';

/**
 * The waves `palisade.yaml` will run for this revision, with the hosts whose ruleset changes. The
 * fleet is every node with a host endpoint; the reconciler's real fleet is its hosts file, which
 * the repository does not hold.
 */
export function previewRollout(config: RolloutConfig, state: DesiredState, hosts: readonly string[], affected: ReadonlySet<string>): WavePreview[] {
  return resolveWaves(config, fleetOf(state, hosts)).map((w) => ({ name: w.name, hosts: w.hosts, affected: w.hosts.filter((h) => affected.has(h)) }));
}
