import { gnpNameReason, nameReason, npNameReason, policyTierNameReason, tierNameReason } from './names.js';
import { DEFAULT_ALLOW_PROFILE, type Resource } from './schemas.js';

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
    case 'Profile':
      nameIssue(nameReason(name));
      // libcalico-go/lib/clientv3/profile.go:48: Calico always provides this one and refuses a user's.
      if (name === DEFAULT_ALLOW_PROFILE) nameIssue(`${DEFAULT_ALLOW_PROFILE} already exists. The profile "${DEFAULT_ALLOW_PROFILE}" is default provided by Calico`);
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

const CATCH_ALL = new Set(['0.0.0.0/0', '::/0']);

/**
 * Valid in Calico 3.29 (which Palisade follows) but probably not meant: a catch-all in `notNets`
 * makes the rule match nothing in that family. Calico rejects it from 3.29.6, 3.30.3 and 3.31
 * (`catch-all CIDR in negation creates logical contradiction`), so the repository breaks on upgrade.
 */
export function resourceWarnings(r: Resource): RuleIssue[] {
  if (r.kind !== 'GlobalNetworkPolicy' && r.kind !== 'NetworkPolicy' && r.kind !== 'Profile') return [];
  const issues: RuleIssue[] = [];
  for (const direction of ['ingress', 'egress'] as const) {
    r.spec[direction].forEach((rule, i) => {
      for (const side of ['source', 'destination'] as const) {
        rule[side].notNets.forEach((net, j) => {
          if (CATCH_ALL.has(net)) {
            issues.push({
              path: ['spec', direction, i, side, 'notNets', j],
              message: `'${net}' in notNets matches no traffic of its family; accepted as in Calico 3.29.0, but rejected from Calico 3.29.6, 3.30.3 and 3.31 (catch-all CIDR in negation creates logical contradiction)`,
            });
          }
        });
      }
    });
  }
  return issues;
}
