import type { CheckNeed } from './check-needs.js';
import type { Danger } from './plan-report.js';
import type { Change } from './reachability.js';

/**
 * DANGER: a change that takes away a path a rollout check needs (or opens one a check expects
 * closed). The rollout would fail that check on the canary and roll back, or worse, the operator
 * loses the way in. A controller check is reached from the management network; with none known,
 * the controller could be anywhere, so losing "anywhere" counts.
 */
export function findDangers(changes: readonly Change[], needs: readonly CheckNeed[], managementKnown: boolean): Danger[] {
  const dangers: Danger[] = [];
  for (const c of changes) {
    for (const need of needs) {
      if (need.direction !== c.report.direction) continue;
      if (need.service.proto !== c.service.proto || need.service.port !== c.service.port || need.service.icmpType !== c.service.icmpType) continue;
      if (need.expect === 'open' ? c.report.change !== 'closed' : c.report.change !== 'opened') continue;
      if (!peerMatches(need, c, managementKnown)) continue;
      const why =
        need.expect === 'open'
          ? `check ${need.name} (${need.describe}) needs this path; the rollout would fail it and stop${need.direction === 'ingress' ? ', and the host may be unreachable for its operators' : ''}`
          : `check ${need.name} (${need.describe}) expects this path closed; the change opens it`;
      dangers.push({ host: c.report.host, check: need.name, why, change: c.report });
    }
  }
  return dangers;
}

function peerMatches(need: CheckNeed, c: Change, managementKnown: boolean): boolean {
  if (need.direction === 'ingress') return managementKnown ? c.peers.some((p) => p.management) : c.peers.some((p) => p.anywhere);
  if (need.target === undefined) return true;
  return c.peers.some((p) => p.address === need.target);
}
