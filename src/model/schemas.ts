import { z } from 'zod';
import { parseSelector, SelectorError, usesGlobal } from '../selector/index.js';
import { FELIX_IGNORED_FIELDS } from './felix-fields.js';
import { parseInterfaceExclude } from './interface-exclude.js';
import { interfaceNameReason, labelValueReason, nameReason, portNameReason, qualifiedNameReason } from './names.js';
import { formatCidr, parseIp, parsePrefixed, tryParseCidr } from '../net/cidr.js';
import { strictObject } from './strict.js';

/**
 * Calico projectcalico.org/v3 host-protection resources (docs/calico-model.md §1).
 *
 * Each schema parses the YAML form an operator writes and outputs the normalised form the rest
 * of Palisade consumes (`z.output`): Calico's defaults applied, ports and protocols canonical.
 * Field rules carry Calico's reasons; rules that relate several fields are refinements on the
 * enclosing object so that their issues still point at the offending field.
 */

export const API_VERSION = 'projectcalico.org/v3';

export const ProtocolName = z.enum(['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite']);
export type ProtocolName = z.output<typeof ProtocolName>;

/** A protocol by Calico's case-sensitive name or by number 1–255 (int or numeric string). */
export const Protocol = z.union([z.string(), z.number()]).transform((raw, ctx): ProtocolName | number => {
  const named = ProtocolName.safeParse(raw);
  if (named.success) return named.data;
  const text = String(raw);
  if (!/^[0-9]+$/.test(text)) {
    const hint = ProtocolName.options.find((n) => n.toLowerCase() === text.toLowerCase());
    ctx.addIssue({ code: 'custom', message: `protocol name invalid${hint ? ` (names are case-sensitive: use '${hint}')` : ''}` });
    return z.NEVER;
  }
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 255) {
    ctx.addIssue({ code: 'custom', message: 'protocol number invalid' });
    return z.NEVER;
  }
  return n;
});
export type Protocol = z.output<typeof Protocol>;

/** Only these carry ports in Calico; UDPLite (136) does not. */
export function protocolSupportsPorts(p: Protocol | undefined): boolean {
  return p === 'TCP' || p === 'UDP' || p === 'SCTP' || p === 6 || p === 17 || p === 132;
}

const PORT_RANGE = /^([0-9]+):([0-9]+)$/;

/** A port: number, numeric string, "min:max" range, or a named port (resolved from HEP `ports`). */
export const Port = z.union([z.number(), z.string()]).transform((raw, ctx) => {
  const text = String(raw);
  const range = PORT_RANGE.exec(text);
  const [min, max] = range ? [Number(range[1]), Number(range[2])] : /^[0-9]+$/.test(text) ? [Number(text), Number(text)] : [NaN, NaN];
  if (Number.isNaN(min)) {
    const reason = /^[a-zA-Z0-9_.-]{1,128}$/.test(text) ? portNameReason(text) : 'not a port number, range or name';
    if (reason) {
      ctx.addIssue({ code: 'custom', message: `invalid port '${text}': ${reason}` });
      return z.NEVER;
    }
    return { kind: 'named' as const, name: text };
  }
  if (min > 65535 || max > 65535) {
    ctx.addIssue({ code: 'custom', message: `invalid port '${text}': port numbers must not exceed 65535` });
    return z.NEVER;
  }
  if (min < 1 || max < 1) {
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

/** Selector text, checked with the real parser so the reason names the failing character. */
export const SelectorText = z.string().superRefine((text, ctx) => {
  try {
    parseSelector(text);
  } catch (e) {
    if (!(e instanceof SelectorError)) throw e;
    ctx.addIssue({ code: 'custom', message: `invalid selector: ${e.message}` });
  }
});

/** The tree of a selector already reported by `SelectorText` when it does not parse. */
function astOrUndefined(text: string | undefined) {
  if (text === undefined) return undefined;
  try {
    return parseSelector(text).ast;
  } catch {
    return undefined;
  }
}

const GLOBAL_ONLY_IN_NAMESPACE_SELECTOR = 'global() can only be used in an EntityRule namespaceSelector';

/** A rule CIDR: explicit prefix and zero host bits (`1.2.3.4/24` is rejected, as in Calico). */
export const RuleNet = z.string().superRefine((text, ctx) => {
  const parsed = parsePrefixed(text);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: parseIp(text) ? `invalid CIDR '${text}': a prefix length is required (e.g. '${text}/${text.includes(':') ? 128 : 32}')` : `invalid CIDR '${text}'` });
  } else if (parsed.hostBits) {
    ctx.addIssue({ code: 'custom', message: `invalid CIDR '${text}': host bits are set (failed to validate tag: net); did you mean '${formatCidr(parsed.cidr)}'?` });
  }
});

export const IcmpFields = strictObject({
  type: z.number().int().min(0, { error: 'ICMP type must be between 0 and 254' }).max(254, { error: 'ICMP type must be between 0 and 254' }).optional(),
  code: z.number().int().min(0, { error: 'ICMP code must be between 0 and 255' }).max(255, { error: 'ICMP code must be between 0 and 255' }).optional(),
}).superRefine((icmp, ctx) => {
  if (icmp.code !== undefined && icmp.type === undefined) ctx.addIssue({ code: 'custom', message: 'ICMP code specified without an ICMP type', path: ['code'] });
});

export const ServiceAccountMatch = strictObject({ names: z.array(z.string()).optional(), selector: SelectorText.optional() });
export const ServiceMatch = strictObject({ name: z.string().optional(), namespace: z.string().optional() });

export const EntityRule = strictObject({
  nets: z.array(RuleNet).default([]),
  notNets: z.array(RuleNet).default([]),
  selector: SelectorText.optional(),
  notSelector: SelectorText.optional(),
  namespaceSelector: SelectorText.optional(),
  ports: z.array(Port).default([]),
  notPorts: z.array(Port).default([]),
  serviceAccounts: ServiceAccountMatch.optional(),
  services: ServiceMatch.optional(),
}).superRefine((e, ctx) => {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', message, path });
  for (const field of ['selector', 'notSelector'] as const) {
    const ast = astOrUndefined(e[field]);
    if (ast && usesGlobal(ast)) issue([field], GLOBAL_ONLY_IN_NAMESPACE_SELECTOR);
  }
  const ns = astOrUndefined(e.namespaceSelector);
  if (ns && ns.op !== 'global' && usesGlobal(ns)) issue(['namespaceSelector'], 'global() cannot be combined with other selectors');
  if (e.services) {
    if (!e.services.name) issue(['services', 'name'], 'must specify a service name');
    if (e.selector || e.notSelector || e.namespaceSelector || e.serviceAccounts) {
      issue(['services'], 'cannot specify Selector, NotSelector, NamespaceSelector or ServiceAccounts together with Services');
    }
    if (e.nets.length > 0 || e.notNets.length > 0) issue(['services'], 'cannot specify Nets or NotNets together with Services');
  }
});
export type EntityRule = z.output<typeof EntityRule>;

export const Action = z.enum(['Allow', 'Deny', 'Log', 'Pass'], {
  error: (iss) => `invalid action ${JSON.stringify(iss.input)}: must be one of Allow, Deny, Log, Pass (case-sensitive)`,
});
export type Action = z.output<typeof Action>;

export const HttpMatch = strictObject({
  methods: z.array(z.string()).optional(),
  paths: z.array(strictObject({ exact: z.string().optional(), prefix: z.string().optional() })).optional(),
});

const MAX_ANNOTATIONS_BYTES = 256 * 1024;

export const Annotations = z.record(z.string(), z.string()).superRefine((annotations, ctx) => {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    const reason = qualifiedNameReason(key.toLowerCase());
    if (reason) ctx.addIssue({ code: 'custom', message: `invalid annotation key '${key}': ${reason}`, path: [key] });
    total += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (total > MAX_ANNOTATIONS_BYTES) ctx.addIssue({ code: 'custom', message: `total size of annotations is too large by ${total - MAX_ANNOTATIONS_BYTES} bytes` });
});

const emptyEntityRule = (): EntityRule => EntityRule.parse({});

const familyOf = (net: string): 4 | 6 | undefined => parsePrefixed(net)?.cidr.family;

export const Rule = strictObject({
  action: Action,
  ipVersion: z.union([z.literal(4), z.literal(6)], { error: 'ipVersion must be 4 or 6' }).optional(),
  protocol: Protocol.optional(),
  notProtocol: Protocol.optional(),
  icmp: IcmpFields.optional(),
  notICMP: IcmpFields.optional(),
  source: EntityRule.default(emptyEntityRule),
  destination: EntityRule.default(emptyEntityRule),
  http: HttpMatch.optional(),
  // Rule annotations are checked like object annotations (validator.go:1897 validateRuleMetadata).
  metadata: strictObject({ annotations: Annotations.optional() }).optional(),
}).superRefine((rule, ctx) => {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', message, path });
  for (const side of ['source', 'destination'] as const) {
    for (const field of ['ports', 'notPorts'] as const) {
      if (rule[side][field].length > 0 && !protocolSupportsPorts(rule.protocol)) {
        issue([side, field], 'rules that specify ports must set protocol to TCP or UDP or SCTP');
      }
    }
  }
  if (rule.icmp && rule.protocol !== 'ICMP' && rule.protocol !== 'ICMPv6') issue(['icmp'], 'rules that specify ICMP fields must set protocol to ICMP');
  for (const field of ['protocol', 'notProtocol'] as const) {
    if (rule[field] === 'ICMP' && rule.ipVersion !== undefined && rule.ipVersion !== 4) issue([field], "must set ipversion to '4' with protocol icmp");
    if (rule[field] === 'ICMPv6' && rule.ipVersion !== undefined && rule.ipVersion !== 6) issue([field], "must set ipversion to '6' with protocol icmpv6");
  }
  const nets = (['source', 'destination'] as const).flatMap((side) =>
    (['nets', 'notNets'] as const).flatMap((field) => rule[side][field].map((net, i) => ({ path: [side, field, i], family: familyOf(net) }))),
  );
  const first = nets[0];
  const mixed = nets.find((n) => n.family !== first?.family);
  if (mixed) issue(mixed.path, 'rule contains both IPv4 and IPv6 CIDRs');
  else if (first && rule.ipVersion !== undefined && first.family !== rule.ipVersion) issue(first.path, "rule IP version doesn't match CIDR version");
  if (rule.http) {
    if (rule.action !== 'Allow') issue(['http'], 'only valid for Allow rules');
    if (rule.protocol !== undefined && rule.protocol !== 'TCP') issue(['http'], 'HTTP matches require protocol TCP (or no protocol)');
  }
});
export type Rule = z.output<typeof Rule>;

export const PolicyType = z.enum(['Ingress', 'Egress'], {
  error: (iss) => `invalid policy type ${JSON.stringify(iss.input)}: must be Ingress or Egress (case-sensitive)`,
});
export type PolicyType = z.output<typeof PolicyType>;

const LabelValue = z.string({ error: 'label values must be strings (quote numbers and booleans)' });

/** Label maps: keys are Kubernetes qualified names, values Kubernetes label values. */
export const Labels = z.record(z.string(), LabelValue).superRefine((labels, ctx) => {
  for (const [key, value] of Object.entries(labels)) {
    const keyReason = qualifiedNameReason(key);
    if (keyReason) ctx.addIssue({ code: 'custom', message: `invalid label key '${key}': ${keyReason}`, path: [key] });
    const valueReason = labelValueReason(value);
    if (valueReason) ctx.addIssue({ code: 'custom', message: `invalid label value '${value}': ${valueReason}`, path: [key] });
  }
});

/** ObjectMeta as `kubectl`/`calicoctl get -o yaml` writes it; server-set fields are accepted and unused. */
export const Metadata = strictObject({
  name: z.string({ error: 'metadata.name is required' }).min(1, { error: 'metadata.name is required' }),
  namespace: z.string().optional(),
  labels: Labels.default({}),
  annotations: Annotations.optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  creationTimestamp: z.union([z.string(), z.null()]).optional(),
  deletionTimestamp: z.string().optional(),
  deletionGracePeriodSeconds: z.number().optional(),
  generateName: z.string().optional(),
  selfLink: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(z.unknown()).optional(),
  managedFields: z.array(z.unknown()).optional(),
});

/** Calico's client default: `types` from the rules present when omitted. */
function defaultTypes(spec: { types?: PolicyType[] | undefined; egress: Rule[]; ingress: Rule[] }): PolicyType[] {
  if (spec.types && spec.types.length > 0) return spec.types;
  if (spec.egress.length === 0) return ['Ingress'];
  return spec.ingress.length === 0 ? ['Egress'] : ['Ingress', 'Egress'];
}

/**
 * Applies the client's defaults. The leading keys fix the output's key order, so a policy prints
 * the same whether or not its YAML spelled out `types`.
 */
function withDefaults<S extends { tier: string; order: number | null; selector: string; types?: PolicyType[] | undefined; ingress: Rule[]; egress: Rule[] }>(spec: S) {
  const fixed = { tier: spec.tier || 'default', order: spec.order, selector: spec.selector || 'all()', types: defaultTypes(spec) };
  return Object.assign({ ...fixed }, spec, fixed);
}

const Order = z.number({ error: 'order must be a number' }).nullable().default(null);

/** A policy selector: parses, and `global()` (as a substring, like Calico) is not allowed. */
const PolicySelector = SelectorText.refine((s) => !s.includes('global()'), { error: GLOBAL_ONLY_IN_NAMESPACE_SELECTOR });

type Issue = (path: (string | number)[], message: string) => void;

/** Checks shared by both policy kinds: duplicate types, direction-specific rule fields. */
function checkPolicyCommon(spec: { types?: PolicyType[] | undefined; ingress: Rule[]; egress: Rule[] }, issue: Issue, global: boolean): void {
  const seen = new Set<string>();
  (spec.types ?? []).forEach((t, i) => {
    if (seen.has(t)) issue(['types', i], `'${t}' type specified more than once`);
    seen.add(t);
  });
  spec.ingress.forEach((r, i) => {
    if (r.destination.services) issue(['ingress', i, 'destination', 'services'], 'not allowed in ingress rule destination');
    if (global && r.source.services && !r.source.services.namespace) issue(['ingress', i, 'source', 'services'], 'must specify a namespace');
  });
  spec.egress.forEach((r, i) => {
    if (r.http) issue(['egress', i, 'http'], 'not allowed in egress rules');
    if (r.source.services) issue(['egress', i, 'source', 'services'], 'not allowed in egress rule source');
    if (global && r.destination.services && !r.destination.services.namespace) issue(['egress', i, 'destination', 'services'], 'must specify a namespace');
    if (r.destination.services && (r.destination.ports.length > 0 || r.destination.notPorts.length > 0)) {
      issue(['egress', i, 'destination', 'ports'], 'cannot specify Ports or NotPorts together with destination Services');
    }
  });
}

const PerformanceHints = z.array(z.literal('AssumeNeededOnEveryNode', { error: "performance hint must be 'AssumeNeededOnEveryNode'" }));

/** What GlobalNetworkPolicy and (namespaced) NetworkPolicy have in common. */
const policyFields = {
  tier: z.string().default('default'),
  order: Order,
  selector: PolicySelector.default('all()'),
  types: z.array(PolicyType).optional(),
  ingress: z.array(Rule).default([]),
  egress: z.array(Rule).default([]),
  serviceAccountSelector: PolicySelector.optional(),
  performanceHints: PerformanceHints.optional(),
};

export const GlobalNetworkPolicySpec = strictObject({
  ...policyFields,
  doNotTrack: z.boolean().default(false),
  preDNAT: z.boolean().default(false),
  applyOnForward: z.boolean().default(false),
  namespaceSelector: PolicySelector.optional(),
})
  .superRefine((spec, ctx) => {
    const issue: Issue = (path, message) => ctx.addIssue({ code: 'custom', message, path });
    checkPolicyCommon(spec, issue, true);
    if (spec.tier !== '') {
      const reason = nameReason(spec.tier);
      if (reason) issue(['tier'], reason);
    }
    if (spec.preDNAT && spec.doNotTrack) issue(['preDNAT'], 'PreDNAT and DoNotTrack cannot both be true, for a given PolicySpec');
    if (spec.preDNAT && spec.egress.length > 0) issue(['egress'], 'PreDNAT PolicySpec cannot have any Egress rules');
    if (spec.preDNAT && spec.types?.includes('Egress')) issue(['types'], "PreDNAT PolicySpec cannot have 'egress' Type");
    if ((spec.preDNAT || spec.doNotTrack) && !spec.applyOnForward) {
      issue(['applyOnForward'], 'ApplyOnForward must be true if either PreDNAT or DoNotTrack is true, for a given PolicySpec');
    }
    const hints = spec.performanceHints ?? [];
    if (new Set(hints).size !== hints.length) issue(['performanceHints'], 'performance hints must be unique');
  })
  .transform((spec) => withDefaults(spec));
export type GlobalNetworkPolicySpec = z.output<typeof GlobalNetworkPolicySpec>;

export const NetworkPolicySpec = strictObject(policyFields)
  .superRefine((spec, ctx) => checkPolicyCommon(spec, (path, message) => ctx.addIssue({ code: 'custom', message, path }), false))
  .transform((spec) => withDefaults(spec));
export type NetworkPolicySpec = z.output<typeof NetworkPolicySpec>;

/** A named port on a host endpoint. */
export const EndpointPort = strictObject({
  name: z.string().superRefine((name, ctx) => {
    const reason = portNameReason(name);
    if (reason) ctx.addIssue({ code: 'custom', message: `invalid port name '${name}': ${reason}` });
  }),
  protocol: Protocol.superRefine((p, ctx) => {
    if (!protocolSupportsPorts(p)) ctx.addIssue({ code: 'custom', message: 'protocol must be TCP, UDP or SCTP for a named port' });
    // The v3 API accepts a number here, but Felix's v1 check then drops the whole host endpoint
    // (treating it as missing), which fails open for its interface.
    else if (typeof p === 'number') ctx.addIssue({ code: 'custom', message: `use the protocol name instead of ${p}: Felix drops a host endpoint whose port protocol is numeric` });
  }),
  port: z.number().int().min(1, { error: 'port must be between 1 and 65535' }).max(65535, { error: 'port must be between 1 and 65535' }),
});

export const HostEndpointSpec = strictObject({
  node: z.string().optional(),
  interfaceName: z.string().optional(),
  expectedIPs: z.array(z.string()).default([]),
  profiles: z.array(z.string()).default([]),
  ports: z.array(EndpointPort).default([]),
})
  .superRefine((spec, ctx) => {
    const issue: Issue = (path, message) => ctx.addIssue({ code: 'custom', message, path });
    if (!spec.node) issue(spec.node === undefined ? [] : ['node'], 'no node has been specified');
    else {
      const reason = nameReason(spec.node);
      if (reason) issue(['node'], reason.replace(/^name/, 'node'));
    }
    if (!spec.interfaceName && spec.expectedIPs.length === 0) issue([], 'no interface or expected IPs have been specified');
    if (spec.interfaceName) {
      const reason = interfaceNameReason(spec.interfaceName);
      if (reason) issue(['interfaceName'], reason);
    }
    spec.expectedIPs.forEach((ip, i) => {
      if (!parseIp(ip)) issue(['expectedIPs', i], `invalid IP address '${ip}' (expectedIPs are plain addresses, not CIDRs)`);
    });
    spec.profiles.forEach((p, i) => {
      const reason = nameReason(p);
      if (reason) issue(['profiles', i], reason.replace(/^name/, 'profile name'));
    });
    // One name may serve several protocols (Felix's named-port index is keyed by name and
    // protocol, felix/labelindex/named_port_index.go); the same name twice for one protocol is refused.
    const names = new Set<string>();
    spec.ports.forEach((p, i) => {
      const key = `${p.name}/${String(p.protocol)}`;
      if (names.has(key)) issue(['ports', i, 'name'], `port name '${p.name}' is used more than once for protocol ${String(p.protocol)}`);
      names.add(key);
    });
  })
  // The refinement guarantees `node`; the output type says so.
  .transform((spec) => ({ ...spec, node: spec.node ?? '' }));
export type HostEndpointSpec = z.output<typeof HostEndpointSpec>;

/** GlobalNetworkSet nets are looser than rule nets: any IP or CIDR, host bits allowed. */
export const GlobalNetworkSetSpec = strictObject({
  nets: z.array(
    z.string().refine((n) => tryParseCidr(n) !== null, { error: (iss) => `invalid IP or CIDR '${String(iss.input)}'` }),
  ).default([]),
});

export const ProfileSpec = strictObject({
  ingress: z.array(Rule).default([]),
  egress: z.array(Rule).default([]),
  labelsToApply: Labels.default({}),
});

/**
 * The profile Calico always provides: allow everything in both directions
 * (libcalico-go/lib/resources/static.go:28). Endpoints may list it without defining it.
 */
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

export const TierSpec = strictObject({
  order: Order,
  defaultAction: z.enum(['Deny', 'Pass'], { error: 'defaultAction must be Deny or Pass' }).default('Deny'),
});

/**
 * A failsafe entry. Felix lower-cases the protocol and accepts only tcp and udp, so both cases are
 * accepted and normalised; a missing protocol means TCP, as Felix documents.
 */
export const ProtoPort = strictObject({
  protocol: z
    .string()
    .default('TCP')
    .transform((p, ctx) => {
      const upper = p.toUpperCase();
      if (upper === 'TCP' || upper === 'UDP') return upper;
      ctx.addIssue({ code: 'custom', message: upper === 'SCTP' ? "Felix rejects 'sctp' failsafe ports; use TCP or UDP" : "protocol must be 'TCP' or 'UDP'" });
      return z.NEVER;
    }),
  port: z.number().int().min(0, { error: 'port must be between 0 and 65535' }).max(65535, { error: 'port must be between 0 and 65535' }),
  net: z
    .string()
    .refine((n) => n === '' || tryParseCidr(n) !== null, { error: (iss) => `invalid net '${String(iss.input)}': must be an IP or CIDR` })
    .optional(),
}).transform((pp) => ({ protocol: pp.protocol, port: pp.port, ...(pp.net ? { net: pp.net } : {}) }));
export type ProtoPort = z.output<typeof ProtoPort>;

const pp = (protocol: 'TCP' | 'UDP', port: number): ProtoPort => ({ protocol, port });

/** Felix's defaults (docs/calico-model.md §1.8): an omitted list means these nine; `[]` means none. */
export const DEFAULT_FAILSAFE_INBOUND: readonly ProtoPort[] = [
  pp('TCP', 22), pp('UDP', 68), pp('TCP', 179), pp('TCP', 2379), pp('TCP', 2380),
  pp('TCP', 5473), pp('TCP', 6443), pp('TCP', 6666), pp('TCP', 6667),
];
export const DEFAULT_FAILSAFE_OUTBOUND: readonly ProtoPort[] = [
  pp('UDP', 53), pp('UDP', 67), pp('TCP', 179), pp('TCP', 2379), pp('TCP', 2380),
  pp('TCP', 5473), pp('TCP', 6443), pp('TCP', 6666), pp('TCP', 6667),
];

const INTERFACE_PREFIX = /^[a-zA-Z0-9_-]{1,15}$/;

/** The FelixConfiguration fields Palisade acts on; every other known field is reported as ignored. */
export const FELIX_ACTED_ON_FIELDS = ['failsafeInboundHostPorts', 'failsafeOutboundHostPorts', 'defaultEndpointToHostAction', 'interfacePrefix', 'interfaceExclude'] as const;

/**
 * FelixConfiguration. Fields stay optional here because a `node.<name>` configuration overrides
 * only what it sets; `effectiveFelix` applies defaults.
 */
export const FelixConfigurationSpec = strictObject({
  failsafeInboundHostPorts: z.array(ProtoPort).optional(),
  failsafeOutboundHostPorts: z.array(ProtoPort).optional(),
  defaultEndpointToHostAction: z.enum(['Drop', 'Accept', 'Return'], { error: 'defaultEndpointToHostAction must be Drop, Accept or Return' }).optional(),
  interfacePrefix: z
    .string()
    .refine((s) => s.split(',').every((p) => INTERFACE_PREFIX.test(p.trim())), { error: 'interfacePrefix must be a comma-separated list of 1-15 of [a-zA-Z0-9_-]' })
    .optional(),
  interfaceExclude: z
    .string()
    .superRefine((text, ctx) => {
      const parsed = text === '' ? null : parseInterfaceExclude(text);
      if (parsed && !parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
    })
    .optional(),
  ...Object.fromEntries(Object.entries(FELIX_IGNORED_FIELDS).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof FELIX_IGNORED_FIELDS]: z.ZodOptional<(typeof FELIX_IGNORED_FIELDS)[K]>;
  },
});
export type FelixConfigurationSpec = z.output<typeof FelixConfigurationSpec>;

const resource = <K extends string, S extends z.ZodType>(kind: K, spec: S) =>
  strictObject({
    apiVersion: z.literal(API_VERSION, { error: `apiVersion must be ${API_VERSION}` }),
    kind: z.literal(kind),
    metadata: Metadata,
    spec,
  });

export const GlobalNetworkPolicy = resource('GlobalNetworkPolicy', GlobalNetworkPolicySpec.default(() => GlobalNetworkPolicySpec.parse({})));
export const NetworkPolicy = resource('NetworkPolicy', NetworkPolicySpec.default(() => NetworkPolicySpec.parse({})));
export const HostEndpoint = resource('HostEndpoint', HostEndpointSpec);
export const GlobalNetworkSet = resource('GlobalNetworkSet', GlobalNetworkSetSpec.default(() => ({ nets: [] })));
export const Profile = resource('Profile', ProfileSpec.default(() => ProfileSpec.parse({})));
export const Tier = resource('Tier', TierSpec.default(() => TierSpec.parse({})));
export const FelixConfiguration = resource('FelixConfiguration', FelixConfigurationSpec.default(() => ({})));

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

/** The schema for one kind, for callers that already know it. */
export const RESOURCE_SCHEMAS = Object.fromEntries(Resource.options.map((o) => [o.shape.kind.value, o])) as {
  [K in ResourceKind]: Extract<(typeof Resource.options)[number], { shape: { kind: z.ZodLiteral<K> } }>;
};
