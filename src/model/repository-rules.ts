import { parseSelector } from '../selector/index.js';
import type { SourceLocation } from '../state/desired-state.js';
import { storedPolicyName } from './names.js';
import { DEFAULT_ALLOW_PROFILE, FELIX_ACTED_ON_FIELDS, type Resource } from './schemas.js';
import type { ModelError, ModelErrorCode } from './errors.js';

export interface Located {
  resource: Resource;
  source: SourceLocation;
}

const problem = (code: ModelErrorCode, { resource, source }: Located, message: string, field?: string): ModelError => ({
  code,
  ...source,
  kind: resource.kind,
  name: resource.metadata.name,
  ...(field ? { field } : {}),
  message,
});

/** The identity Calico stores a resource under; two resources with one identity collide. */
export function identity(r: Resource): string {
  switch (r.kind) {
    case 'GlobalNetworkPolicy':
      return `${r.kind}/${storedPolicyName(r.metadata.name, r.spec.tier)}`;
    case 'NetworkPolicy':
      return `${r.kind}/${r.metadata.namespace ?? 'default'}/${storedPolicyName(r.metadata.name, r.spec.tier)}`;
    default:
      return `${r.kind}/${r.metadata.name}`;
  }
}

/** Errors that need the whole repository: name collisions and tiers that do not exist. */
export function repositoryErrors(all: readonly Located[]): ModelError[] {
  const errors: ModelError[] = [];
  const first = new Map<string, Located>();
  for (const item of all) {
    const id = identity(item.resource);
    const previous = first.get(id);
    if (previous) {
      const where = `${previous.source.file}:${previous.source.line}:${previous.source.col}`;
      const alias = previous.resource.metadata.name === item.resource.metadata.name ? '' : ` (as ${previous.resource.metadata.name}; both are stored as ${id.split('/').pop()})`;
      errors.push(problem('DUPLICATE_NAME', item, `duplicate ${item.resource.kind} name: already defined at ${where}${alias}`, 'metadata.name'));
    } else {
      first.set(id, item);
    }
  }
  return errors;
}

/** Resources whose tier is neither `default` nor defined in the repository. */
export function missingTierErrors(all: readonly Located[]): ModelError[] {
  const tiers = new Set(all.filter((l) => l.resource.kind === 'Tier').map((l) => l.resource.metadata.name));
  tiers.add('default');
  return all.flatMap((l) =>
    (l.resource.kind === 'GlobalNetworkPolicy' || l.resource.kind === 'NetworkPolicy') && !tiers.has(l.resource.spec.tier)
      ? [problem('MISSING_TIER', l, `tier '${l.resource.spec.tier}' does not exist: define a Tier named '${l.resource.spec.tier}'`, 'spec.tier')]
      : [],
  );
}

const ACTED_ON = new Set<string>(FELIX_ACTED_ON_FIELDS);

/** Warnings: things that are valid Calico but that Palisade or Felix will not act on. */
export function repositoryWarnings(all: readonly Located[]): ModelError[] {
  const warnings: ModelError[] = [];
  const profiles = new Map(all.flatMap((l) => (l.resource.kind === 'Profile' ? [[l.resource.metadata.name, l.resource.spec.labelsToApply] as const] : [])));
  const hosts = all.flatMap((l) =>
    l.resource.kind === 'HostEndpoint'
      ? [{ name: l.resource.metadata.name, labels: Object.assign({}, ...l.resource.spec.profiles.map((p) => profiles.get(p) ?? {}), l.resource.metadata.labels) as Record<string, string> }]
      : [],
  );
  for (const l of all) {
    const r = l.resource;
    if (r.kind === 'FelixConfiguration') {
      const ignored = Object.keys(r.spec).filter((k) => !ACTED_ON.has(k) && (r.spec as Record<string, unknown>)[k] !== undefined).sort();
      if (ignored.length > 0) warnings.push(problem('FELIX_FIELDS_IGNORED', l, `accepted but not acted on by Palisade: ${ignored.join(', ')}`, 'spec'));
      if (r.metadata.name !== 'default' && !r.metadata.name.startsWith('node.')) {
        warnings.push(problem('FELIX_CONFIG_UNUSED', l, "Felix reads only the FelixConfiguration named 'default' and 'node.<nodename>'; this one has no effect", 'metadata.name'));
      }
    }
    if (r.kind === 'NetworkPolicy') {
      const selector = parseSelector(r.spec.selector);
      const matched = hosts.filter((h) => selector.matches(h.labels)).map((h) => h.name);
      if (matched.length > 0) {
        warnings.push(
          problem('NETWORK_POLICY_NOT_FOR_HOSTS', l, `a NetworkPolicy never applies to host endpoints (Calico confines it to namespace '${r.metadata.namespace ?? 'default'}'), although its selector matches HostEndpoint ${matched.join(', ')}; use a GlobalNetworkPolicy`, 'spec.selector'),
        );
      }
    }
    if (r.kind === 'HostEndpoint') {
      r.spec.profiles.forEach((p, i) => {
        if (!profiles.has(p) && p !== DEFAULT_ALLOW_PROFILE) {
          warnings.push(problem('MISSING_PROFILE', l, `profile '${p}' is not defined in the repository; like Felix, Palisade puts a default-drop profile (deny all, both directions) in its place, so later profiles never see this endpoint's traffic`, `spec.profiles[${i}]`));
        }
      });
    }
  }
  return warnings;
}
