/**
 * Calico's name and label rules (docs/calico-model.md §1.0), with the reasons Calico and Kubernetes
 * print. Each check returns the reason, or undefined when the value is valid.
 */

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GNP_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NP_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NP_K8S_PREFIXED = /^(knp|ossg)\.default\.(.+)$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const K8S_PORT_NAME = /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

export const MAX_NAME_BYTES = 253;

const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/** Every resource name: a DNS-1123 subdomain of at most 253 bytes. */
export function nameReason(name: string): string | undefined {
  if (byteLength(name) > MAX_NAME_BYTES) return `name is too long by ${byteLength(name) - MAX_NAME_BYTES} bytes`;
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return `name must consist of lower case alphanumeric characters, '-' or '.' (regex: ${DNS1123_SUBDOMAIN.source})`;
  }
  return undefined;
}

/** GlobalNetworkPolicy (3.29): one DNS label, optionally prefixed by `tier.`. */
export function gnpNameReason(name: string): string | undefined {
  return nameReason(name) ?? (GNP_NAME.test(name) ? undefined : `name must consist of lower case alphanumeric characters or '-' (regex: ${GNP_NAME.source})`);
}

/** NetworkPolicy: a label, `label.label`, or a Kubernetes-generated `knp.default.` / `ossg.default.` name. */
export function npNameReason(name: string): string | undefined {
  const generated = NP_K8S_PREFIXED.exec(name);
  if (generated) return nameReason(generated[2]!);
  return nameReason(name) ?? (NP_NAME.test(name) ? undefined : `name must consist of lower case alphanumeric characters or '-' (regex: ${NP_NAME.source})`);
}

/** Tier: a single DNS label of at most 63 characters. */
export function tierNameReason(name: string): string | undefined {
  if (name.length > 63) return `name is too long by ${name.length - 63} bytes`;
  return DNS1123_LABEL.test(name) ? undefined : `name must consist of lower case alphanumeric characters or '-' (regex: ${DNS1123_LABEL.source})`;
}

/**
 * The 3.29 client rule: a policy in tier T≠default is named `T.<name>`; a dotted name must carry
 * its own tier as prefix. Returns the reason, or undefined.
 */
export function policyTierNameReason(name: string, tier: string): string | undefined {
  if (NP_K8S_PREFIXED.test(name)) return undefined;
  const dot = name.indexOf('.');
  if (dot < 0) return tier === 'default' ? undefined : `Incorrectly formatted policy name ${name}: a policy in tier '${tier}' must be named '${tier}.<name>'`;
  const prefix = name.slice(0, dot);
  return prefix === tier ? undefined : `Incorrectly formatted policy name ${name}: prefix '${prefix}' is not the policy's tier '${tier}'`;
}

/** The name Calico 3.29 stores a policy under: a bare name in tier `default` becomes `default.<name>`. */
export function storedPolicyName(name: string, tier: string): string {
  return name.includes('.') || NP_K8S_PREFIXED.test(name) ? name : `${tier}.${name}`;
}

const QUALIFIED_PART_MESSAGE =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const PREFIX_MESSAGE =
  "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** A Kubernetes qualified name (label and annotation keys): `[prefix/]name`. */
export function qualifiedNameReason(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `a qualified name ${QUALIFIED_PART_MESSAGE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`;
  const [prefix, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  if (prefix !== undefined) {
    if (prefix.length === 0) return 'prefix part must be non-empty';
    if (prefix.length > 253) return 'prefix part must be no more than 253 characters';
    if (!DNS1123_SUBDOMAIN.test(prefix)) return PREFIX_MESSAGE;
  }
  if (name.length === 0) return 'name part must be non-empty';
  if (name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME_PART.test(name)) return `name part ${QUALIFIED_PART_MESSAGE}`;
  return undefined;
}

export function labelValueReason(value: string): string | undefined {
  if (value.length > 63) return 'must be no more than 63 characters';
  if (!LABEL_VALUE.test(value)) {
    return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
  }
  return undefined;
}

/** A Kubernetes port name (IANA_SVC_NAME): 1–15 of `[a-z0-9-]`, a letter, no edge or double `-`. */
export function portNameReason(name: string): string | undefined {
  if (name.length > 15) return 'must be no more than 15 characters';
  if (!K8S_PORT_NAME.test(name)) return "must contain only alphanumeric characters (a-z, 0-9), and hyphens (-)";
  if (name.includes('--')) return 'must not contain consecutive hyphens';
  if (!/[a-z]/.test(name)) return 'must contain at least one letter (a-z)';
  return undefined;
}

const IFACE_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;

export function interfaceNameReason(name: string): string | undefined {
  return name === '*' || IFACE_NAME.test(name) ? undefined : `invalid interface name '${name}': must be '*' or 1-15 of [a-zA-Z0-9_.-]`;
}
