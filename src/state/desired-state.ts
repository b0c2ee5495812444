import type {
  FelixConfiguration,
  FelixConfigurationSpec,
  GlobalNetworkPolicy,
  GlobalNetworkSet,
  HostEndpoint,
  NetworkPolicy,
  Profile,
  ProtoPort,
  Resource,
  Tier,
} from '../model/schemas.js';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../model/schemas.js';
import { DEFAULT_INTERFACE_EXCLUDE, parseInterfaceExclude } from '../model/interface-exclude.js';

/** Where a resource was read from, so every message can name file, line and column. */
export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

/** The validated resources of one revision: what every host should enforce. */
export interface DesiredState {
  policies: GlobalNetworkPolicy[];
  networkPolicies: NetworkPolicy[];
  hostEndpoints: HostEndpoint[];
  networkSets: GlobalNetworkSet[];
  profiles: Profile[];
  tiers: Tier[];
  felixConfigs: FelixConfiguration[];
  /** `Kind/name` → where it was defined. */
  sources: Record<string, SourceLocation>;
}

export const resourceKey = (r: Pick<Resource, 'kind' | 'metadata'>): string => `${r.kind}/${r.metadata.name}`;

export function emptyDesiredState(): DesiredState {
  return { policies: [], networkPolicies: [], hostEndpoints: [], networkSets: [], profiles: [], tiers: [], felixConfigs: [], sources: {} };
}

/** Groups validated resources by kind. Sorting by name keeps every later stage deterministic. */
export function desiredStateOf(resources: readonly { resource: Resource; source: SourceLocation }[]): DesiredState {
  const state = emptyDesiredState();
  const byName = <T extends { metadata: { name: string } }>(a: T, b: T) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);
  for (const { resource, source } of resources) {
    state.sources[resourceKey(resource)] = source;
    switch (resource.kind) {
      case 'GlobalNetworkPolicy': state.policies.push(resource); break;
      case 'NetworkPolicy': state.networkPolicies.push(resource); break;
      case 'HostEndpoint': state.hostEndpoints.push(resource); break;
      case 'GlobalNetworkSet': state.networkSets.push(resource); break;
      case 'Profile': state.profiles.push(resource); break;
      case 'Tier': state.tiers.push(resource); break;
      case 'FelixConfiguration': state.felixConfigs.push(resource); break;
    }
  }
  for (const list of [state.policies, state.networkPolicies, state.hostEndpoints, state.networkSets, state.profiles, state.tiers, state.felixConfigs]) {
    (list as { metadata: { name: string } }[]).sort(byName);
  }
  return state;
}

export interface EffectiveFelix {
  failsafeInboundHostPorts: readonly ProtoPort[];
  failsafeOutboundHostPorts: readonly ProtoPort[];
  defaultEndpointToHostAction: 'Drop' | 'Accept' | 'Return';
  interfacePrefixes: string[];
  /** Interfaces Felix never sees (interface-exclude.ts); validated by the schema. */
  interfaceExcluded: (iface: string) => boolean;
}

/** Felix's view for one node: `node.<name>` overrides `default`, which overrides Felix's defaults. */
export function effectiveFelix(state: DesiredState, node: string): EffectiveFelix {
  const spec = (name: string): FelixConfigurationSpec => state.felixConfigs.find((f) => f.metadata.name === name)?.spec ?? {};
  const merged: FelixConfigurationSpec = { ...spec('default'), ...stripUndefined(spec(`node.${node}`)) };
  return {
    failsafeInboundHostPorts: merged.failsafeInboundHostPorts ?? DEFAULT_FAILSAFE_INBOUND,
    failsafeOutboundHostPorts: merged.failsafeOutboundHostPorts ?? DEFAULT_FAILSAFE_OUTBOUND,
    defaultEndpointToHostAction: merged.defaultEndpointToHostAction ?? 'Drop',
    interfacePrefixes: (merged.interfacePrefix ?? 'cali').split(',').map((p) => p.trim()).filter(Boolean),
    interfaceExcluded: excludedBy(merged.interfaceExclude || DEFAULT_INTERFACE_EXCLUDE),
  };
}

function excludedBy(text: string): (iface: string) => boolean {
  const parsed = parseInterfaceExclude(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.matches;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
