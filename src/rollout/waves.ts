import type { Wave } from '../../machines/rollout.js';

/**
 * Default staging: one canary host, then half of the rest, then the rest. Hosts are sorted by
 * name so the same fleet always gets the same canary (reviewers can predict it).
 */
export function defaultWaves(hosts: readonly string[]): Wave[] {
  const sorted = [...hosts].sort();
  const [canary, ...rest] = sorted;
  if (canary === undefined) return [];
  const half = Math.ceil(rest.length / 2);
  const waves: Wave[] = [{ name: 'canary', hosts: [canary] }];
  if (half > 0) waves.push({ name: 'wave-1', hosts: rest.slice(0, half) });
  if (rest.length > half) waves.push({ name: 'wave-2', hosts: rest.slice(half) });
  return waves;
}
