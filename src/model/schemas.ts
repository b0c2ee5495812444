import { z } from 'zod';

/**
 * Calico projectcalico.org/v3 host-protection resources.
 *
 * Each schema parses the YAML form an operator writes and outputs the normalised form the rest
 * of Palisade consumes (`z.output`): Calico's defaults applied, ports and protocols canonical.
 * Cross-field rules that need Calico's wording live in `validate.ts`.
 */

export const API_VERSION = 'projectcalico.org/v3';

export const ProtocolName = z.enum(['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite']);

/** A protocol by Calico's case-sensitive name or by number 1–255 (int or numeric string). */
export const Protocol = z.union([
  ProtocolName,
  z.number().int().min(1, 'protocol number invalid').max(255, 'protocol number invalid'),
  z
    .string()
    .regex(/^[0-9]+$/, 'protocol name invalid')
    .transform(Number)
    .pipe(z.number().int().min(1, 'protocol number invalid').max(255, 'protocol number invalid')),
]);
export type Protocol = z.output<typeof Protocol>;

const PORT_RANGE = /^([0-9]+):([0-9]+)$/;

/** A port: number, numeric string, "min:max" range, or a named port (resolved from HEP `ports`). */
export const Port = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const text = String(raw);
  const range = PORT_RANGE.exec(text);
  const [min, max] = range ? [Number(range[1]), Number(range[2])] : /^[0-9]+$/.test(text) ? [Number(text), Number(text)] : [NaN, NaN];
  if (Number.isNaN(min)) {
    if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(text) || !/[a-z]/.test(text) || text.includes('--')) {
      ctx.addIssue({ code: 'custom', message: `invalid port '${text}'` });
      return z.NEVER;
    }
    return { kind: 'named' as const, name: text };
  }
  if (min < 1 || max < 1 || min > 65535 || max > 65535) {
    ctx.addIssue({ code: 'custom', message: 'port range invalid, port number must be between 1 and 65535' });
    return z.NEVER;
  }
  if (min > max) {
    ctx.addIssue({ code: 'custom', message: `minimum port number (${min}) is greater than maximum port number (${max}) in port range` });
    return z.NEVER;
  }
  return { kind: 'range' as const, min, max };
});
export type Port = z.output<typeof Port>;

export const IcmpFields = z.strictObject({
  type: z.number().int().min(0).max(254).optional(),
  code: z.number().int().min(0).max(255).optional(),
});

export const EntityRule = z.strictObject({
  nets: z.array(z.string()).default([]),
  notNets: z.array(z.string()).default([]),
  selector: z.string().optional(),
  notSelector: z.string().optional(),
  namespaceSelector: z.string().optional(),
  ports: z.array(Port).default([]),
  notPorts: z.array(Port).default([]),
  serviceAccounts: z.strictObject({ names: z.array(z.string()).optional(), selector: z.string().optional() }).optional(),
  services: z.strictObject({ name: z.string(), namespace: z.string().optional() }).optional(),
});
export type EntityRule = z.output<typeof EntityRule>;

export const Action = z.enum(['Allow', 'Deny', 'Log', 'Pass']);
export type Action = z.output<typeof Action>;

export const Rule = z.strictObject({
  action: Action,
  ipVersion: z.union([z.literal(4), z.literal(6)]).optional(),
  protocol: Protocol.optional(),
  notProtocol: Protocol.optional(),
  icmp: IcmpFields.optional(),
  notICMP: IcmpFields.optional(),
  source: EntityRule.default(EntityRule.parse({})),
  destination: EntityRule.default(EntityRule.parse({})),
  http: z.unknown().optional(),
  metadata: z.strictObject({ annotations: z.record(z.string(), z.string()).optional() }).optional(),
});
export type Rule = z.output<typeof Rule>;

export const PolicyType = z.enum(['Ingress', 'Egress']);
export type PolicyType = z.output<typeof PolicyType>;

const Labels = z.record(z.string(), z.string()).default({});

export const Metadata = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: Labels,
  annotations: z.record(z.string(), z.string()).optional(),
});

/** Calico's client default: `types` from the rules present when omitted. */
function defaultTypes(spec: { types?: PolicyType[] | undefined; egress: Rule[]; ingress: Rule[]; preDNAT?: boolean }): PolicyType[] {
  if (spec.types && spec.types.length > 0) return spec.types;
  if (spec.egress.length === 0) return ['Ingress'];
  return spec.ingress.length === 0 ? ['Egress'] : ['Ingress', 'Egress'];
}

export const GlobalNetworkPolicySpec = z
  .strictObject({
    tier: z.string().default('default'),
    order: z.number().nullable().default(null),
    selector: z.string().default('all()'),
    types: z.array(PolicyType).optional(),
    ingress: z.array(Rule).default([]),
    egress: z.array(Rule).default([]),
    doNotTrack: z.boolean().default(false),
    preDNAT: z.boolean().default(false),
    applyOnForward: z.boolean().default(false),
    namespaceSelector: z.string().optional(),
    serviceAccountSelector: z.string().optional(),
    performanceHints: z.array(z.literal('AssumeNeededOnEveryNode')).optional(),
  })
  .transform((spec) => ({ ...spec, tier: spec.tier || 'default', selector: spec.selector || 'all()', types: defaultTypes(spec) }));
export type GlobalNetworkPolicySpec = z.output<typeof GlobalNetworkPolicySpec>;

export const NetworkPolicySpec = z
  .strictObject({
    tier: z.string().default('default'),
    order: z.number().nullable().default(null),
    selector: z.string().default('all()'),
    types: z.array(PolicyType).optional(),
    ingress: z.array(Rule).default([]),
    egress: z.array(Rule).default([]),
    serviceAccountSelector: z.string().optional(),
    performanceHints: z.array(z.literal('AssumeNeededOnEveryNode')).optional(),
  })
  .transform((spec) => ({ ...spec, tier: spec.tier || 'default', types: defaultTypes(spec) }));

export const EndpointPort = z.strictObject({
  name: z.string(),
  protocol: Protocol,
  port: z.number().int().min(1).max(65535),
});

export const HostEndpointSpec = z.strictObject({
  node: z.string(),
  interfaceName: z.string().optional(),
  expectedIPs: z.array(z.string()).default([]),
  profiles: z.array(z.string()).default([]),
  ports: z.array(EndpointPort).default([]),
});
export type HostEndpointSpec = z.output<typeof HostEndpointSpec>;

export const GlobalNetworkSetSpec = z.strictObject({ nets: z.array(z.string()).default([]) });

export const ProfileSpec = z.strictObject({
  ingress: z.array(Rule).default([]),
  egress: z.array(Rule).default([]),
  labelsToApply: z.record(z.string(), z.string()).default({}),
});

export const TierSpec = z.strictObject({
  order: z.number().nullable().default(null),
  defaultAction: z.enum(['Deny', 'Pass']).default('Deny'),
});

export const ProtoPort = z.strictObject({
  protocol: z.enum(['TCP', 'UDP']),
  port: z.number().int().min(0).max(65535),
  net: z.string().optional(),
});
export type ProtoPort = z.output<typeof ProtoPort>;

const pp = (protocol: 'TCP' | 'UDP', port: number): ProtoPort => ({ protocol, port });

/** Felix's defaults (calico-model.md §1.8): an omitted list means these nine; `[]` means none. */
export const DEFAULT_FAILSAFE_INBOUND: readonly ProtoPort[] = [
  pp('TCP', 22), pp('UDP', 68), pp('TCP', 179), pp('TCP', 2379), pp('TCP', 2380),
  pp('TCP', 5473), pp('TCP', 6443), pp('TCP', 6666), pp('TCP', 6667),
];
export const DEFAULT_FAILSAFE_OUTBOUND: readonly ProtoPort[] = [
  pp('UDP', 53), pp('UDP', 67), pp('TCP', 179), pp('TCP', 2379), pp('TCP', 2380),
  pp('TCP', 5473), pp('TCP', 6443), pp('TCP', 6666), pp('TCP', 6667),
];

/**
 * The host-protection part of FelixConfiguration. Fields stay optional here because a
 * `node.<name>` configuration overrides only what it sets; `effectiveFelix` applies defaults.
 * Felix's many other fields are accepted by the model's field catalogue (validate.ts) and ignored.
 */
export const FelixConfigurationSpec = z.looseObject({
  failsafeInboundHostPorts: z.array(ProtoPort).optional(),
  failsafeOutboundHostPorts: z.array(ProtoPort).optional(),
  defaultEndpointToHostAction: z.enum(['Drop', 'Accept', 'Return']).optional(),
  interfacePrefix: z.string().optional(),
});
export type FelixConfigurationSpec = z.output<typeof FelixConfigurationSpec>;

const resource = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  z.strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(kind),
    metadata: Metadata,
    spec,
  });

export const GlobalNetworkPolicy = resource('GlobalNetworkPolicy', GlobalNetworkPolicySpec.default(GlobalNetworkPolicySpec.parse({})));
export const NetworkPolicy = resource('NetworkPolicy', NetworkPolicySpec.default(NetworkPolicySpec.parse({})));
export const HostEndpoint = resource('HostEndpoint', HostEndpointSpec);
export const GlobalNetworkSet = resource('GlobalNetworkSet', GlobalNetworkSetSpec.default({ nets: [] }));
export const Profile = resource('Profile', ProfileSpec.default(ProfileSpec.parse({})));
export const Tier = resource('Tier', TierSpec.default(TierSpec.parse({})));
export const FelixConfiguration = resource('FelixConfiguration', FelixConfigurationSpec.default({}));

export const Resource = z.discriminatedUnion('kind', [
  GlobalNetworkPolicy,
  NetworkPolicy,
  HostEndpoint,
  GlobalNetworkSet,
  Profile,
  Tier,
  FelixConfiguration,
]);

export type GlobalNetworkPolicy = z.output<typeof GlobalNetworkPolicy>;
export type NetworkPolicy = z.output<typeof NetworkPolicy>;
export type HostEndpoint = z.output<typeof HostEndpoint>;
export type GlobalNetworkSet = z.output<typeof GlobalNetworkSet>;
export type Profile = z.output<typeof Profile>;
export type Tier = z.output<typeof Tier>;
export type FelixConfiguration = z.output<typeof FelixConfiguration>;
export type Resource = z.output<typeof Resource>;
export type ResourceKind = Resource['kind'];
export const RESOURCE_KINDS = Resource.options.map((o) => o.shape.kind.value);
