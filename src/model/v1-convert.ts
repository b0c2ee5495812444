import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { parseSelector, selectorFromAst, type SelectorNode } from '../selector/index.js';
import { formatCidr, tryParseCidr } from '../net/cidr.js';
import { API_VERSION, ProtocolName } from './schemas.js';

/**
 * The legacy v1 etcd model (docs/calico-model.md §4) to projectcalico.org/v3 resources, following
 * Calico's own upgrade converters. Input is a set of etcd keys and their JSON values.
 */

export interface V1Entry {
  key: string;
  value: unknown;
}

export interface V1Conversion {
  /** Plain v3 objects, ready for `stringify`; validate them with `loadPolicyFiles`. */
  resources: Record<string, unknown>[];
  /** Keys or fields with no v3 counterpart, said plainly. */
  warnings: string[];
  /** Entries that could not be converted at all. */
  errors: string[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const unescapeKey = (s: string) => s.replace(/%2f/gi, '/').replace(/%25/g, '%');

/** Calico's name conversion: lower-case, invalid characters to '-', and a hash suffix if changed. */
export function convertName(name: string, allowDots: boolean): string {
  const trim = (label: string) => label.replace(/^[^a-z0-9]+/, '').replace(/[^a-z0-9]+$/, '');
  const lowered = name.toLowerCase().replace(allowDots ? /[^a-z0-9.-]/g : /[^a-z0-9-]/g, '-');
  const out = allowDots ? lowered.split('.').map(trim).filter(Boolean).join('.') : trim(lowered);
  if (out === name) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  return out ? `${out}-${hash}` : hash;
}

const ACTIONS: Record<string, string> = { allow: 'Allow', deny: 'Deny', log: 'Log', 'next-tier': 'Pass', '': 'Allow' };

function convertProtocol(p: unknown): unknown {
  if (typeof p === 'number') return p;
  if (typeof p !== 'string') return p;
  return ProtocolName.options.find((n) => n.toLowerCase() === p.toLowerCase()) ?? (/^[0-9]+$/.test(p) ? Number(p) : p);
}

function maskNet(net: string): string {
  const cidr = tryParseCidr(net);
  return cidr ? formatCidr(cidr) : net;
}

/** Rewrites the v1 namespace label to its v3 name inside a selector. */
function renameLabels(node: SelectorNode): SelectorNode {
  const rename = (l: string) => (l === 'calico/k8s_ns' ? 'projectcalico.org/namespace' : l);
  switch (node.op) {
    case 'all': case 'global': return node;
    case 'not': return { op: 'not', operand: renameLabels(node.operand) };
    case 'and': case 'or': return { op: node.op, operands: node.operands.map(renameLabels) };
    default: return { ...node, label: rename(node.label) };
  }
}

function convertSelector(text: string): string {
  if (!text.includes('calico/k8s_ns')) return text;
  return selectorFromAst(renameLabels(parseSelector(text).ast)).toString();
}

const andSelectors = (...parts: (string | undefined)[]): string | undefined => {
  const present = parts.filter((p): p is string => !!p);
  return present.length === 0 ? undefined : present.length === 1 ? present[0] : present.map((p) => `(${p})`).join(' && ');
};

const KNOWN_RULE_FIELDS = new Set([
  'action', 'ip_version', 'protocol', '!protocol', 'icmp_type', 'icmp_code', '!icmp_type', '!icmp_code', 'http', 'metadata', 'log_prefix',
  ...['src', 'dst'].flatMap((d) => ['net', 'nets', 'selector', 'tag', 'ports'].flatMap((f) => [`${d}_${f}`, `!${d}_${f}`])),
]);

function convertEntity(rule: Json, d: 'src' | 'dst'): Json {
  const list = (k: string): unknown[] => (Array.isArray(rule[k]) ? (rule[k] as unknown[]) : []);
  const single = (k: string): unknown[] => (typeof rule[k] === 'string' ? [rule[k]] : []);
  const tagSel = (k: string) => (typeof rule[k] === 'string' ? `${rule[k] as string} == ''` : undefined);
  const sel = (k: string) => (typeof rule[k] === 'string' && rule[k] ? convertSelector(rule[k] as string) : undefined);
  const out: Json = {};
  const nets = [...list(`${d}_nets`), ...single(`${d}_net`)].map((n) => maskNet(String(n)));
  const notNets = [...list(`!${d}_nets`), ...single(`!${d}_net`)].map((n) => maskNet(String(n)));
  const selector = andSelectors(sel(`${d}_selector`), tagSel(`${d}_tag`));
  const notSelector = andSelectors(sel(`!${d}_selector`), tagSel(`!${d}_tag`));
  if (nets.length) out.nets = nets;
  if (notNets.length) out.notNets = notNets;
  if (selector) out.selector = selector;
  if (notSelector) out.notSelector = notSelector;
  if (list(`${d}_ports`).length) out.ports = list(`${d}_ports`);
  if (list(`!${d}_ports`).length) out.notPorts = list(`!${d}_ports`);
  return out;
}

function convertRule(rule: unknown, where: string, warnings: string[]): Json {
  if (!isObject(rule)) return { action: rule };
  for (const k of Object.keys(rule)) if (!KNOWN_RULE_FIELDS.has(k)) warnings.push(`${where}: unknown v1 rule field '${k}' dropped`);
  if (rule.log_prefix !== undefined) warnings.push(`${where}: log_prefix has no v3 equivalent and was dropped`);
  const action = typeof rule.action === 'string' ? (ACTIONS[rule.action] ?? rule.action) : rule.action === undefined ? 'Allow' : rule.action;
  const out: Json = { action };
  if (rule.ip_version !== undefined) out.ipVersion = rule.ip_version;
  if (rule.protocol !== undefined) out.protocol = convertProtocol(rule.protocol);
  if (rule['!protocol'] !== undefined) out.notProtocol = convertProtocol(rule['!protocol']);
  const icmp = (t: string, c: string) => (rule[t] !== undefined ? { type: rule[t], ...(rule[c] !== undefined ? { code: rule[c] } : {}) } : rule[c] !== undefined ? { code: rule[c] } : undefined);
  const i = icmp('icmp_type', 'icmp_code');
  const ni = icmp('!icmp_type', '!icmp_code');
  if (i) out.icmp = i;
  if (ni) out.notICMP = ni;
  const source = convertEntity(rule, 'src');
  const destination = convertEntity(rule, 'dst');
  if (Object.keys(source).length) out.source = source;
  if (Object.keys(destination).length) out.destination = destination;
  if (rule.http !== undefined) out.http = rule.http;
  if (rule.metadata !== undefined) out.metadata = rule.metadata;
  return out;
}

const rules = (v: unknown, where: string, warnings: string[]): Json[] => (Array.isArray(v) ? v.map((r, i) => convertRule(r, `${where}[${i}]`, warnings)) : []);

const meta = (name: string, extra: Json = {}): Json => ({ name, ...extra });
const resource = (kind: string, metadata: Json, spec: Json): Json => ({ apiVersion: API_VERSION, kind, metadata, spec });

function convertPolicy(tier: string, rawName: string, v: Json, warnings: string[]): Json {
  const name = `${convertName(tier, false)}.${convertName(rawName, false)}`;
  const where = `policy ${tier}/${rawName}`;
  const preDNAT = v.pre_dnat === true;
  const doNotTrack = v.untracked === true;
  const types = Array.isArray(v.types) && v.types.length > 0
    ? v.types.map((t) => (t === 'ingress' ? 'Ingress' : t === 'egress' ? 'Egress' : t))
    : preDNAT ? ['Ingress'] : ['Ingress', 'Egress'];
  const spec: Json = {
    tier,
    ...(v.order !== undefined ? { order: v.order } : {}),
    selector: typeof v.selector === 'string' ? convertSelector(v.selector) : 'all()',
    types,
    ingress: rules(v.inbound_rules, `${where} inbound_rules`, warnings),
    egress: rules(v.outbound_rules, `${where} outbound_rules`, warnings),
  };
  if (Array.isArray(v.performance_hints)) spec.performanceHints = v.performance_hints;
  const namespace = typeof v.namespace === 'string' && v.namespace ? v.namespace : undefined;
  if (!namespace) {
    if (doNotTrack) spec.doNotTrack = true;
    if (preDNAT) spec.preDNAT = true;
    if (v.apply_on_forward === true || doNotTrack || preDNAT) spec.applyOnForward = true;
  }
  const extra: Json = isObject(v.annotations) ? { annotations: v.annotations } : {};
  return namespace ? resource('NetworkPolicy', meta(name, { namespace, ...extra }), spec) : resource('GlobalNetworkPolicy', meta(name, extra), spec);
}

/** Felix's string form of a failsafe list: `tcp:22`, `udp:68`, `tcp:10.0.0.0/8:22`, `tcp:[::/0]:22`, `none`. */
export function parseFailsafeList(text: string): Json[] | string {
  if (text.trim().toLowerCase() === 'none') return [];
  const out: Json[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:([a-zA-Z]+):)?(?:(\[[^\]]+\]|[0-9.]+(?:\/[0-9]+)?):)?([0-9]+)$/.exec(raw);
    if (!m) return `invalid failsafe entry '${raw}'`;
    const protocol = (m[1] ?? 'tcp').toUpperCase();
    if (protocol !== 'TCP' && protocol !== 'UDP') return `invalid failsafe protocol in '${raw}': Felix accepts tcp and udp`;
    const net = m[2]?.replace(/^\[|\]$/g, '');
    out.push({ protocol, port: Number(m[3]), ...(net ? { net } : {}) });
  }
  return out;
}

const FELIX_CONFIG: Record<string, (v: string) => [string, unknown] | string> = {
  FailsafeInboundHostPorts: (v) => { const l = parseFailsafeList(v); return typeof l === 'string' ? l : ['failsafeInboundHostPorts', l]; },
  FailsafeOutboundHostPorts: (v) => { const l = parseFailsafeList(v); return typeof l === 'string' ? l : ['failsafeOutboundHostPorts', l]; },
  DefaultEndpointToHostAction: (v) => ['defaultEndpointToHostAction', v.charAt(0).toUpperCase() + v.slice(1).toLowerCase()],
  InterfacePrefix: (v) => ['interfacePrefix', v],
  InterfaceExclude: (v) => ['interfaceExclude', v],
};

const KIND_ORDER = ['Tier', 'FelixConfiguration', 'GlobalNetworkSet', 'Profile', 'HostEndpoint', 'GlobalNetworkPolicy', 'NetworkPolicy'];

/** Converts v1 entries; the output is sorted by kind, then name, so reruns are byte-identical. */
export function convertV1(entries: readonly V1Entry[]): V1Conversion {
  const warnings: string[] = [];
  const errors: string[] = [];
  const out: Json[] = [];
  const profiles = new Map<string, { ingress: Json[]; egress: Json[]; labels: Json }>();
  const felix = new Map<string, Json>();
  const profile = (name: string) => {
    let p = profiles.get(name);
    if (!p) profiles.set(name, (p = { ingress: [], egress: [], labels: {} }));
    return p;
  };
  for (const { key, value } of entries) {
    const parts = key.replace(/\/+$/, '').split('/').map(unescapeKey);
    const path = parts.slice(3);
    if (parts[0] !== '' || parts[1] !== 'calico' || parts[2] !== 'v1') {
      warnings.push(`${key}: not a /calico/v1 key; skipped`);
      continue;
    }
    const obj = isObject(value) ? value : undefined;
    const needObject = () => (obj ? true : (errors.push(`${key}: value must be a JSON object`), false));
    if (path[0] === 'policy' && path[1] === 'tier' && path[3] === 'policy' && path.length === 5) {
      if (needObject()) out.push(convertPolicy(path[2]!, path[4]!, obj!, warnings));
    } else if (path[0] === 'policy' && path[1] === 'tier' && path[3] === 'metadata' && path.length === 4) {
      if (!needObject()) continue;
      const defaultAction = obj!.defaultAction ?? obj!.default_action;
      const spec: Json = { ...(obj!.order !== undefined ? { order: obj!.order } : {}), ...(typeof defaultAction === 'string' ? { defaultAction: defaultAction.charAt(0).toUpperCase() + defaultAction.slice(1).toLowerCase() } : {}) };
      if (path[2] !== 'default') out.push(resource('Tier', meta(convertName(path[2]!, false)), spec));
    } else if (path[0] === 'policy' && path[1] === 'profile' && path.length === 4) {
      const p = profile(path[2]!);
      if (path[3] === 'rules' && needObject()) {
        p.ingress = rules(obj!.inbound_rules, `profile ${path[2]} inbound_rules`, warnings);
        p.egress = rules(obj!.outbound_rules, `profile ${path[2]} outbound_rules`, warnings);
      } else if (path[3] === 'labels' && needObject()) Object.assign(p.labels, obj);
      else if (path[3] === 'tags' && Array.isArray(value)) for (const t of value) p.labels[String(t)] = '';
      else if (path[3] !== 'rules' && path[3] !== 'labels') warnings.push(`${key}: unknown profile key; skipped`);
    } else if (path[0] === 'host' && path[2] === 'endpoint' && path.length === 4) {
      if (!needObject()) continue;
      const v = obj!;
      const expectedIPs = [...(Array.isArray(v.expected_ipv4_addrs) ? v.expected_ipv4_addrs : []), ...(Array.isArray(v.expected_ipv6_addrs) ? v.expected_ipv6_addrs : [])];
      const spec: Json = { node: convertName(path[1]!, true) };
      if (typeof v.name === 'string' && v.name) spec.interfaceName = v.name;
      if (expectedIPs.length) spec.expectedIPs = expectedIPs;
      if (Array.isArray(v.profile_ids) && v.profile_ids.length) spec.profiles = v.profile_ids.map((p) => convertName(String(p), true));
      if (Array.isArray(v.ports) && v.ports.length) spec.ports = v.ports.map((p) => (isObject(p) ? { ...p, protocol: convertProtocol(p.protocol) } : p));
      out.push(resource('HostEndpoint', meta(convertName(`${path[1]}.${path[3]}`, true), isObject(v.labels) ? { labels: v.labels } : {}), spec));
    } else if (path[0] === 'netset' && path.length === 2) {
      if (!needObject()) continue;
      out.push(resource('GlobalNetworkSet', meta(convertName(path[1]!, true), isObject(obj!.labels) ? { labels: obj!.labels } : {}), { nets: Array.isArray(obj!.nets) ? obj!.nets : [] }));
    } else if ((path[0] === 'config' && path.length === 2) || (path[0] === 'host' && path[2] === 'config' && path.length === 4)) {
      const [configName, felixName] = path[0] === 'config' ? ['default', path[1]!] : [`node.${path[1]}`, path[3]!];
      const convert = FELIX_CONFIG[felixName];
      if (!convert) {
        warnings.push(`${key}: Felix setting ${felixName} is not a host-protection setting; skipped`);
        continue;
      }
      const result = convert(String(value));
      if (typeof result === 'string') errors.push(`${key}: ${result}`);
      else {
        const spec = felix.get(configName) ?? {};
        spec[result[0]] = result[1];
        felix.set(configName, spec);
      }
    } else {
      warnings.push(`${key}: no v3 counterpart; skipped`);
    }
  }
  for (const [name, p] of profiles) {
    const spec: Json = {};
    if (p.ingress.length) spec.ingress = p.ingress;
    if (p.egress.length) spec.egress = p.egress;
    if (Object.keys(p.labels).length) spec.labelsToApply = p.labels;
    out.push(resource('Profile', meta(convertName(name, true)), spec));
  }
  for (const [name, spec] of felix) out.push(resource('FelixConfiguration', meta(name), spec));
  const rank = (r: Json) => KIND_ORDER.indexOf(String(r.kind));
  const nameOf = (r: Json) => String((r.metadata as Json).name);
  out.sort((a, b) => rank(a) - rank(b) || (nameOf(a) < nameOf(b) ? -1 : nameOf(a) > nameOf(b) ? 1 : 0));
  return { resources: out, warnings, errors };
}

/**
 * Reads the v1 input forms: `etcdctl get --prefix /calico/v1 -w json` output (base64 `kvs`), an
 * array of `{key, value}`, or an object mapping keys to values. Values may be JSON text.
 */
export function v1EntriesFromJson(doc: unknown): V1Entry[] | string {
  const decodeValue = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return v;
    }
  };
  if (isObject(doc) && Array.isArray(doc.kvs)) {
    const b64 = (s: unknown) => Buffer.from(String(s), 'base64').toString('utf8');
    return doc.kvs.map((kv) => (isObject(kv) ? { key: b64(kv.key), value: decodeValue(b64(kv.value)) } : { key: '', value: undefined }));
  }
  if (Array.isArray(doc)) {
    if (!doc.every((e) => isObject(e) && typeof e.key === 'string')) return 'expected an array of {"key": ..., "value": ...} objects';
    return doc.map((e) => ({ key: (e as Json).key as string, value: decodeValue((e as Json).value) }));
  }
  if (isObject(doc)) return Object.entries(doc).map(([key, value]) => ({ key, value: decodeValue(value) }));
  return 'expected etcdctl JSON output, an array of {key, value}, or an object of key → value';
}

export function toYamlDocuments(resources: readonly Record<string, unknown>[]): string {
  return resources.map((r) => stringify(r, { lineWidth: 0 })).join('---\n');
}
