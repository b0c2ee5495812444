import { gnpNameReason, nameReason, npNameReason, policyTierNameReason, tierNameReason } from './names.js';
import type { Resource } from './schemas.js';

export interface RuleIssue {
  path: (string | number)[];
  message: string;
}

/** Rules that need the whole resource: which name rule applies depends on the kind and tier. */
export function resourceIssues(r: Resource): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const name = r.metadata.name;
  const nameIssue = (reason: string | undefined) => reason && issues.push({ path: ['metadata', 'name'], message: reason });
  switch (r.kind) {
    case 'GlobalNetworkPolicy':
      nameIssue(gnpNameReason(name) ?? policyTierNameReason(name, r.spec.tier));
      break;
    case 'NetworkPolicy':
      nameIssue(npNameReason(name) ?? policyTierNameReason(name, r.spec.tier));
      if (r.metadata.namespace !== undefined) {
        const reason = nameReason(r.metadata.namespace);
        if (reason) issues.push({ path: ['metadata', 'namespace'], message: reason.replace(/^name/, 'namespace') });
      }
      break;
    case 'Tier':
      nameIssue(tierNameReason(name));
      if (name === 'default' && r.spec.order !== 1e6) issues.push({ path: ['spec', 'order'], message: 'default tier order must be 1e+06' });
      if (name === 'adminnetworkpolicy' && r.spec.order !== 1000) issues.push({ path: ['spec', 'order'], message: 'adminnetworkpolicy tier order must be 1000' });
      break;
    case 'GlobalNetworkSet':
      nameIssue(nameReason(name));
      if ('projectcalico.org/namespace' in r.metadata.labels) {
        issues.push({ path: ['metadata', 'labels', 'projectcalico.org/namespace'], message: 'projectcalico.org/namespace is not a valid label name' });
      }
      break;
    default:
      nameIssue(nameReason(name));
  }
  if (r.kind !== 'NetworkPolicy' && r.metadata.namespace !== undefined) {
    issues.push({ path: ['metadata', 'namespace'], message: `${r.kind} is cluster-scoped and cannot have a namespace` });
  }
  return issues;
}
