import type { ReconcilerState } from '../state/projections.js';

const short = (oid: string) => oid.slice(0, 8);

/** One screen: each revision, how its rollout ended, and where every host ended up and why. */
export function formatSummary(p: ReconcilerState, eventCount: number): string {
  const lines = [`Summary, read back from the event log (${eventCount} events):`];
  for (const r of p.revisions.values()) {
    if (!r.observedAt) continue;
    const outcome = r.rejected ? 'REJECTED (invalid, nothing applied)' : (r.outcome ?? 'in progress');
    lines.push(`  ${short(r.revision)} "${(r.message ?? '').split('\n')[0]}" → ${outcome}${r.durationMs !== undefined ? ` in ${(r.durationMs / 1000).toFixed(1)} s` : ''}`);
    for (const wave of r.waves ?? []) {
      for (const host of wave.hosts) {
        const h = r.hosts[host];
        const state = h?.state ?? 'untouched';
        lines.push(`      ${wave.name.padEnd(7)} ${host.padEnd(8)} ${state}${h?.reason && state !== 'confirmed' ? ` — ${h.reason}` : ''}`);
      }
    }
  }
  return lines.join('\n');
}
