import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parsePolicyText } from '../../src/model/load.js';

type Obj = Record<string, unknown>;
const res = (kind: string, name: string, spec: unknown, metadata: Obj = {}): Obj => ({ apiVersion: 'projectcalico.org/v3', kind, metadata: { name, ...metadata }, spec });
const gnp = (spec: Obj, name = 'p') => res('GlobalNetworkPolicy', name, spec);
const rule = (r: Obj) => gnp({ ingress: [{ action: 'Allow', ...r }] });
const hep = (spec: Obj, name = 'h') => res('HostEndpoint', name, spec);

const problems = (...docs: Obj[]) => {
  const { errors } = parsePolicyText(docs.map((d) => stringify(d)).join('---\n'), 'x.yaml');
  return errors.map((e) => `${e.field ?? ''}: ${e.message}`);
};

type Case = [what: string, docs: Obj[], field: string, reason: string];

// One row per Calico rule (docs/calico-model.md §1), with Calico's reason text.
const INVALID: Case[] = [
  ['metadata name not DNS-1123', [res('GlobalNetworkSet', 'Bad_Name', {})], 'metadata.name', "name must consist of lower case alphanumeric characters, '-' or '.'"],
  ['metadata name too long', [res('GlobalNetworkSet', 'a'.repeat(254), {})], 'metadata.name', 'name is too long by 1 bytes'],
  ['GNP name with two dots', [gnp({}, 'a.b.c')], 'metadata.name', "name must consist of lower case alphanumeric characters or '-'"],
  ['GNP in a tier needs the tier prefix', [res('Tier', 'sec', { order: 10 }), gnp({ tier: 'sec' }, 'p')], 'metadata.name', 'Incorrectly formatted policy name p'],
  ['GNP prefix must be its tier', [gnp({}, 'other.p')], 'metadata.name', 'Incorrectly formatted policy name other.p'],
  ['Tier name with a dot', [res('Tier', 'a.b', {})], 'metadata.name', "name must consist of lower case alphanumeric characters or '-'"],
  ['default tier order', [res('Tier', 'default', { order: 5 })], 'spec.order', 'default tier order must be 1e+06'],
  ['adminnetworkpolicy tier order', [res('Tier', 'adminnetworkpolicy', { order: 5 })], 'spec.order', 'adminnetworkpolicy tier order must be 1000'],
  ['tier defaultAction', [res('Tier', 't', { defaultAction: 'Allow' })], 'spec.defaultAction', 'defaultAction must be Deny or Pass'],
  ['label key with two slashes', [res('GlobalNetworkSet', 's', {}, { labels: { 'a/b/c': 'x' } })], 'metadata.labels.a/b/c', 'a qualified name must consist of'],
  ['label key name part', [res('GlobalNetworkSet', 's', {}, { labels: { '-x': 'x' } })], 'metadata.labels.-x', 'name part must consist of alphanumeric characters'],
  ['label key prefix', [res('GlobalNetworkSet', 's', {}, { labels: { 'Ex.com/x': 'x' } })], 'metadata.labels.Ex.com/x', 'prefix part a lowercase RFC 1123 subdomain'],
  ['label value syntax', [res('GlobalNetworkSet', 's', {}, { labels: { a: 'x y' } })], 'metadata.labels.a', 'a valid label must be an empty string or consist of alphanumeric'],
  ['label value length', [res('GlobalNetworkSet', 's', {}, { labels: { a: 'x'.repeat(64) } })], 'metadata.labels.a', 'must be no more than 63 characters'],
  ['label value not a string', [res('GlobalNetworkSet', 's', {}, { labels: { a: 1 } })], 'metadata.labels.a', 'label values must be strings'],
  ['network set namespace label', [res('GlobalNetworkSet', 's', {}, { labels: { 'projectcalico.org/namespace': 'x' } })], 'metadata.labels.projectcalico.org/namespace', 'projectcalico.org/namespace is not a valid label name'],
  ['action lower case', [gnp({ ingress: [{ action: 'allow' }] })], 'spec.ingress[0].action', 'invalid action "allow": must be one of Allow, Deny, Log, Pass'],
  ['action empty', [gnp({ ingress: [{ action: '' }] })], 'spec.ingress[0].action', 'invalid action ""'],
  ['action missing', [gnp({ ingress: [{}] })], 'spec.ingress[0].action', 'invalid action undefined'],
  ['protocol lower case', [rule({ protocol: 'tcp' })], 'spec.ingress[0].protocol', "protocol name invalid (names are case-sensitive: use 'TCP')"],
  ['protocol 0', [rule({ protocol: 0 })], 'spec.ingress[0].protocol', 'protocol number invalid'],
  ['protocol "256"', [rule({ protocol: '256' })], 'spec.ingress[0].protocol', 'protocol number invalid'],
  ['protocol unknown name', [rule({ protocol: 'GRE' })], 'spec.ingress[0].protocol', 'protocol name invalid'],
  ['ports without protocol', [rule({ destination: { ports: [22] } })], 'spec.ingress[0].destination.ports', 'rules that specify ports must set protocol to TCP or UDP or SCTP'],
  ['ports with UDPLite', [rule({ protocol: 'UDPLite', source: { notPorts: [22] } })], 'spec.ingress[0].source.notPorts', 'rules that specify ports must set protocol to TCP or UDP or SCTP'],
  ['ports with notProtocol only', [rule({ notProtocol: 'TCP', destination: { ports: [22] } })], 'spec.ingress[0].destination.ports', 'rules that specify ports must set protocol'],
  ['port 0', [rule({ protocol: 'TCP', destination: { ports: [0] } })], 'spec.ingress[0].destination.ports[0]', 'port range invalid, port number must be between 1 and 65535'],
  ['port range reversed', [rule({ protocol: 'TCP', destination: { ports: ['90:80'] } })], 'spec.ingress[0].destination.ports[0]', 'minimum port number (90) is greater than maximum port number (80) in port range'],
  ['port over 65535', [rule({ protocol: 'TCP', destination: { ports: [65536] } })], 'spec.ingress[0].destination.ports[0]', 'port numbers must not exceed 65535'],
  ['named port too long', [rule({ protocol: 'TCP', destination: { ports: ['a-very-long-port-name'] } })], 'spec.ingress[0].destination.ports[0]', 'must be no more than 15 characters'],
  ['named port upper case', [rule({ protocol: 'TCP', destination: { ports: ['HTTP'] } })], 'spec.ingress[0].destination.ports[0]', 'must contain only alphanumeric characters'],
  ['named port double hyphen', [rule({ protocol: 'TCP', destination: { ports: ['a--b'] } })], 'spec.ingress[0].destination.ports[0]', 'must not contain consecutive hyphens'],
  ['ICMP code without type', [rule({ protocol: 'ICMP', icmp: { code: 0 } })], 'spec.ingress[0].icmp.code', 'ICMP code specified without an ICMP type'],
  ['notICMP code without type', [rule({ notICMP: { code: 0 } })], 'spec.ingress[0].notICMP.code', 'ICMP code specified without an ICMP type'],
  ['ICMP type 255', [rule({ protocol: 'ICMP', icmp: { type: 255 } })], 'spec.ingress[0].icmp.type', 'ICMP type must be between 0 and 254'],
  ['ICMP code 256', [rule({ protocol: 'ICMP', icmp: { type: 3, code: 256 } })], 'spec.ingress[0].icmp.code', 'ICMP code must be between 0 and 255'],
  ['icmp without ICMP protocol', [rule({ protocol: 'TCP', icmp: { type: 8 } })], 'spec.ingress[0].icmp', 'rules that specify ICMP fields must set protocol to ICMP'],
  ['icmp with numeric protocol 1', [rule({ protocol: 1, icmp: { type: 8 } })], 'spec.ingress[0].icmp', 'rules that specify ICMP fields must set protocol to ICMP'],
  ['ICMP with ipVersion 6', [rule({ protocol: 'ICMP', ipVersion: 6 })], 'spec.ingress[0].protocol', "must set ipversion to '4' with protocol icmp"],
  ['ICMPv6 with ipVersion 4', [rule({ notProtocol: 'ICMPv6', ipVersion: 4 })], 'spec.ingress[0].notProtocol', "must set ipversion to '6' with protocol icmpv6"],
  ['ipVersion 5', [rule({ ipVersion: 5 })], 'spec.ingress[0].ipVersion', 'ipVersion must be 4 or 6'],
  ['net with host bits', [rule({ source: { nets: ['1.2.3.4/24'] } })], 'spec.ingress[0].source.nets[0]', "invalid CIDR '1.2.3.4/24': host bits are set"],
  ['net without prefix', [rule({ source: { nets: ['10.0.0.1'] } })], 'spec.ingress[0].source.nets[0]', "invalid CIDR '10.0.0.1'"],
  ['net garbage', [rule({ destination: { notNets: ['ten/8'] } })], 'spec.ingress[0].destination.notNets[0]', "invalid CIDR 'ten/8'"],
  ['mixed families', [rule({ source: { nets: ['10.0.0.0/8'] }, destination: { nets: ['fd00::/8'] } })], 'spec.ingress[0].destination.nets[0]', 'rule contains both IPv4 and IPv6 CIDRs'],
  ['ipVersion vs CIDR', [rule({ ipVersion: 6, source: { nets: ['10.0.0.0/8'] } })], 'spec.ingress[0].source.nets[0]', "rule IP version doesn't match CIDR version"],
  ['bad rule selector', [rule({ source: { selector: "a = 'x'" } })], 'spec.ingress[0].source.selector', 'invalid selector: expected == at character 3'],
  ['global() in rule selector', [rule({ source: { selector: 'global()' } })], 'spec.ingress[0].source.selector', 'global() can only be used in an EntityRule namespaceSelector'],
  ['global() combined in namespaceSelector', [rule({ source: { namespaceSelector: "global() && a == 'x'" } })], 'spec.ingress[0].source.namespaceSelector', 'global() cannot be combined with other selectors'],
  ['global() in policy selector', [gnp({ selector: "a == 'global()'" })], 'spec.selector', 'global() can only be used in an EntityRule namespaceSelector'],
  ['bad policy selector', [gnp({ selector: 'has(a' })], 'spec.selector', "invalid selector: no closing ')' after has("],
  ['services without name', [gnp({ egress: [{ action: 'Allow', destination: { services: { namespace: 'x' } } }] })], 'spec.egress[0].destination.services.name', 'must specify a service name'],
  ['services with selector', [gnp({ egress: [{ action: 'Allow', destination: { selector: 'has(a)', services: { name: 's', namespace: 'x' } } }] })], 'spec.egress[0].destination.services', 'cannot specify Selector'],
  ['services with nets', [gnp({ egress: [{ action: 'Allow', destination: { nets: ['10.0.0.0/8'], services: { name: 's', namespace: 'x' } } }] })], 'spec.egress[0].destination.services', 'cannot specify Nets or NotNets'],
  ['services in ingress destination', [gnp({ ingress: [{ action: 'Allow', destination: { services: { name: 's', namespace: 'x' } } }] })], 'spec.ingress[0].destination.services', 'not allowed in ingress rule destination'],
  ['services in egress source', [gnp({ egress: [{ action: 'Allow', source: { services: { name: 's', namespace: 'x' } } }] })], 'spec.egress[0].source.services', 'not allowed in egress rule source'],
  ['GNP services without namespace', [gnp({ egress: [{ action: 'Allow', destination: { services: { name: 's' } } }] })], 'spec.egress[0].destination.services', 'must specify a namespace'],
  ['HTTP on Deny', [gnp({ ingress: [{ action: 'Deny', http: { methods: ['GET'] } }] })], 'spec.ingress[0].http', 'only valid for Allow rules'],
  ['HTTP with UDP', [gnp({ ingress: [{ action: 'Allow', protocol: 'UDP', http: { methods: ['GET'] } }] })], 'spec.ingress[0].http', 'HTTP matches require protocol TCP'],
  ['HTTP in egress', [gnp({ egress: [{ action: 'Allow', http: { methods: ['GET'] } }] })], 'spec.egress[0].http', 'not allowed in egress rules'],
  ['duplicate types', [gnp({ types: ['Ingress', 'Ingress'] })], 'spec.types[1]', "'Ingress' type specified more than once"],
  ['type lower case', [gnp({ types: ['ingress'] })], 'spec.types[0]', 'invalid policy type "ingress"'],
  ['preDNAT with doNotTrack', [gnp({ preDNAT: true, doNotTrack: true, applyOnForward: true })], 'spec.preDNAT', 'PreDNAT and DoNotTrack cannot both be true, for a given PolicySpec'],
  ['preDNAT with egress rules', [gnp({ preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] })], 'spec.egress', 'PreDNAT PolicySpec cannot have any Egress rules'],
  ['preDNAT with Egress type', [gnp({ preDNAT: true, applyOnForward: true, types: ['Egress'] })], 'spec.types', "PreDNAT PolicySpec cannot have 'egress' Type"],
  ['doNotTrack without applyOnForward', [gnp({ doNotTrack: true })], 'spec.applyOnForward', 'ApplyOnForward must be true if either PreDNAT or DoNotTrack is true, for a given PolicySpec'],
  ['preDNAT without applyOnForward', [gnp({ preDNAT: true })], 'spec.applyOnForward', 'ApplyOnForward must be true if either PreDNAT or DoNotTrack is true'],
  ['performance hint unknown', [gnp({ performanceHints: ['Fast'] })], 'spec.performanceHints[0]', "performance hint must be 'AssumeNeededOnEveryNode'"],
  ['order not a number', [gnp({ order: '10' })], 'spec.order', 'order must be a number'],
  ['HEP without node', [hep({ interfaceName: 'eth0' })], 'spec', 'no node has been specified'],
  ['HEP without interface or IPs', [hep({ node: 'n' })], 'spec', 'no interface or expected IPs have been specified'],
  ['HEP bad node name', [hep({ node: 'Node_A', interfaceName: 'eth0' })], 'spec.node', 'node must consist of lower case alphanumeric characters'],
  ['HEP interface name too long', [hep({ node: 'n', interfaceName: 'a-very-long-iface' })], 'spec.interfaceName', "invalid interface name 'a-very-long-iface'"],
  ['HEP expectedIPs CIDR', [hep({ node: 'n', expectedIPs: ['10.0.0.1/32'] })], 'spec.expectedIPs[0]', "invalid IP address '10.0.0.1/32'"],
  ['HEP profile name', [hep({ node: 'n', interfaceName: 'eth0', profiles: ['Bad_Profile'] })], 'spec.profiles[0]', 'profile name must consist of lower case'],
  ['HEP port name', [hep({ node: 'n', interfaceName: 'eth0', ports: [{ name: 'SSH', protocol: 'TCP', port: 22 }] })], 'spec.ports[0].name', "invalid port name 'SSH'"],
  ['HEP port protocol ICMP', [hep({ node: 'n', interfaceName: 'eth0', ports: [{ name: 'p', protocol: 'ICMP', port: 22 }] })], 'spec.ports[0].protocol', 'protocol must be TCP, UDP or SCTP for a named port'],
  ['HEP port protocol numeric (Felix drops the HEP)', [hep({ node: 'n', interfaceName: 'eth0', ports: [{ name: 'p', protocol: 6, port: 22 }] })], 'spec.ports[0].protocol', 'Felix drops a host endpoint whose port protocol is numeric'],
  ['HEP port 0', [hep({ node: 'n', interfaceName: 'eth0', ports: [{ name: 'p', protocol: 'TCP', port: 0 }] })], 'spec.ports[0].port', 'port must be between 1 and 65535'],
  ['network set bad net', [res('GlobalNetworkSet', 's', { nets: ['10.0.0.0/33'] })], 'spec.nets[0]', "invalid IP or CIDR '10.0.0.0/33'"],
  ['Felix failsafe sctp', [res('FelixConfiguration', 'default', { failsafeInboundHostPorts: [{ protocol: 'SCTP', port: 1 }] })], 'spec.failsafeInboundHostPorts[0].protocol', "Felix rejects 'sctp' failsafe ports"],
  ['Felix failsafe port', [res('FelixConfiguration', 'default', { failsafeInboundHostPorts: [{ protocol: 'TCP', port: 70000 }] })], 'spec.failsafeInboundHostPorts[0].port', 'port must be between 0 and 65535'],
  ['Felix failsafe net', [res('FelixConfiguration', 'default', { failsafeOutboundHostPorts: [{ port: 1, net: 'x' }] })], 'spec.failsafeOutboundHostPorts[0].net', "invalid net 'x'"],
  ['Felix action case', [res('FelixConfiguration', 'default', { defaultEndpointToHostAction: 'DROP' })], 'spec.defaultEndpointToHostAction', 'defaultEndpointToHostAction must be Drop, Accept or Return'],
  ['Felix interfacePrefix', [res('FelixConfiguration', 'default', { interfacePrefix: 'cali,a b' })], 'spec.interfacePrefix', 'interfacePrefix must be a comma-separated list'],
  ['Felix ignored field wrong type', [res('FelixConfiguration', 'default', { ipipEnabled: 'yes' })], 'spec.ipipEnabled', 'expected boolean'],
  ['Felix ignored enum', [res('FelixConfiguration', 'default', { logSeverityScreen: 'Loud' })], 'spec.logSeverityScreen', 'must be one of Debug, Info, Warning, Error, Fatal'],
  ['Felix duration', [res('FelixConfiguration', 'default', { reportingInterval: '30 seconds' })], 'spec.reportingInterval', 'must be a duration'],
  ['Felix unknown field', [res('FelixConfiguration', 'default', { ipipEnabld: true })], 'spec.ipipEnabld', 'unknown field "ipipEnabld" (did you mean "ipipEnabled"?)'],
  ['unknown rule field', [gnp({ ingress: [{ action: 'Allow', destinaton: {} }] })], 'spec.ingress[0].destinaton', 'unknown field "destinaton" (did you mean "destination"?)'],
  ['unknown top-level field', [{ ...gnp({}), status: {} }], 'status', 'unknown field "status"'],
  ['unknown metadata field', [res('GlobalNetworkSet', 's', {}, { label: {} })], 'metadata.label', 'unknown field "label" (did you mean "labels"?)'],
  ['cluster-scoped with namespace', [res('GlobalNetworkSet', 's', {}, { namespace: 'x' })], 'metadata.namespace', 'GlobalNetworkSet is cluster-scoped and cannot have a namespace'],
  ['wrong apiVersion', [{ ...gnp({}), apiVersion: 'crd.projectcalico.org/v1' }], 'apiVersion', 'the CRD form bypasses Calico validation'],
  ['unknown kind', [{ ...gnp({}), kind: 'WorkloadEndpoint' }], 'kind', "unsupported kind 'WorkloadEndpoint'"],
  ['missing name', [{ apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: {}, spec: {} }], 'metadata.name', 'metadata.name is required'],
  ['missing tier', [gnp({ tier: 'sec' }, 'sec.p')], 'spec.tier', "tier 'sec' does not exist"],
  ['duplicate name', [res('GlobalNetworkSet', 's', {}), res('GlobalNetworkSet', 's', {})], 'metadata.name', 'duplicate GlobalNetworkSet name: already defined at x.yaml:1:1'],
  ['bare and default.-prefixed GNP collide', [gnp({}, 'p'), gnp({}, 'default.p')], 'metadata.name', 'both are stored as default.p'],
];

describe('Calico validation rules', () => {
  it.each(INVALID)('%s', (_what, docs, field, reason) => {
    const found = problems(...docs);
    expect(found.some((p) => p.startsWith(`${field}: `) && p.includes(reason)), `expected "${field}: …${reason}…" in\n${found.join('\n')}`).toBe(true);
  });
});

const VALID: [what: string, docs: Obj[]][] = [
  ['protocol as numeric string', [rule({ protocol: '6', destination: { ports: [22] } })]],
  ['protocol number 132 with ports', [rule({ protocol: 132, destination: { ports: ['1:2'] } })]],
  ['named port with TCP', [rule({ protocol: 'TCP', destination: { ports: ['ssh'] } })]],
  ['empty ports list with any protocol', [rule({ protocol: 'ICMP', destination: { ports: [] } })]],
  ['ICMP without ipVersion', [rule({ protocol: 'ICMP', icmp: { type: 8, code: 0 } })]],
  ['notICMP without protocol', [rule({ notICMP: { type: 8 } })]],
  ['IPv6 nets with ipVersion 6', [rule({ ipVersion: 6, source: { nets: ['fd00::/8'], notNets: ['fd00:1::/32'] } })]],
  ['namespaceSelector global()', [rule({ source: { namespaceSelector: 'global()', selector: "role == 'x'" } })]],
  ['GNP tier prefix', [res('Tier', 'sec', { order: 10 }), gnp({ tier: 'sec' }, 'sec.p')]],
  ['default tier with its order', [res('Tier', 'default', { order: 1000000 })]],
  ['preDNAT with applyOnForward', [gnp({ preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] })]],
  ['doNotTrack with applyOnForward', [gnp({ doNotTrack: true, applyOnForward: true })]],
  ['order negative and fractional', [gnp({ order: -1.5 })]],
  ['HEP with only expectedIPs', [hep({ node: 'n', expectedIPs: ['10.0.0.1', 'fd00::1'] })]],
  ['HEP interface *', [hep({ node: 'n', interfaceName: '*' })]],
  ['network set with host bits and bare IPs', [res('GlobalNetworkSet', 's', { nets: ['10.1.2.3/16', '10.0.0.1', '::/0'] })]],
  ['empty label value, upper-case label name', [res('GlobalNetworkSet', 's', {}, { labels: { 'example.com/Role': '' } })]],
  ['Felix failsafe lower case, no protocol', [res('FelixConfiguration', 'default', { failsafeInboundHostPorts: [{ protocol: 'tcp', port: 22, net: '10.0.0.0/8' }, { port: 23 }] })]],
  ['Felix case-insensitive enum and durations', [res('FelixConfiguration', 'default', { chainInsertMode: 'Append', reportingInterval: '0s', iptablesLockProbeInterval: '50ms', iptablesMarkMask: 0xff000000 })]],
  ['server-set metadata', [res('GlobalNetworkSet', 's', {}, { uid: 'u', resourceVersion: '1', creationTimestamp: '2024-01-01T00:00:00Z' })]],
  ['NetworkPolicy knp.default name', [res('NetworkPolicy', 'knp.default.allow-x', {}, { namespace: 'ns' })]],
];

describe('accepted as Calico accepts', () => {
  it.each(VALID)('%s', (_what, docs) => {
    expect(problems(...docs)).toEqual([]);
  });
});

describe('normalisation', () => {
  it('keeps explicit [] failsafe lists and canonicalises protocol case', () => {
    const { resources } = parsePolicyText(stringify(res('FelixConfiguration', 'default', { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [{ protocol: 'udp', port: 53 }] })));
    expect(resources[0]!.resource.spec).toMatchObject({ failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [{ protocol: 'UDP', port: 53 }] });
  });

  it('infers types from the rules present', () => {
    const types = (spec: Obj) => {
      const r = parsePolicyText(stringify(gnp(spec))).resources[0]!.resource;
      return r.kind === 'GlobalNetworkPolicy' ? r.spec.types : undefined;
    };
    expect(types({})).toEqual(['Ingress']);
    expect(types({ egress: [{ action: 'Allow' }] })).toEqual(['Egress']);
    expect(types({ ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] })).toEqual(['Ingress', 'Egress']);
    expect(types({ types: [], egress: [{ action: 'Allow' }] })).toEqual(['Egress']);
    expect(types({ types: ['Egress'] })).toEqual(['Egress']);
  });

  it('parses ports and protocols to their canonical forms', () => {
    const r = parsePolicyText(stringify(rule({ protocol: '17', destination: { ports: [53, '1000:2000', 'dns'] } }))).resources[0]!.resource;
    if (r.kind !== 'GlobalNetworkPolicy') throw new Error('expected a GlobalNetworkPolicy');
    expect(r.spec.ingress[0]!.protocol).toBe(17);
    expect(r.spec.ingress[0]!.destination.ports).toEqual([{ kind: 'range', min: 53, max: 53 }, { kind: 'range', min: 1000, max: 2000 }, { kind: 'named', name: 'dns' }]);
  });
});
