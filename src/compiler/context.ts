import { API_VERSION, DEFAULT_ALLOW_PROFILE, Profile as ProfileResource, type GlobalNetworkPolicy, type HostEndpoint, type Profile, type Rule } from '../model/schemas.js';
import type { Labels, Selector } from '../selector/index.js';
import type { DesiredState } from '../state/desired-state.js';
import { CompileCache, type CompiledRules } from './cache.js';
import { parseCidr, type Cidr } from '../net/cidr.js';
import { contentKey } from './content-key.js';
import type { AddressSet, Direction, NamedPortSet } from './ir.js';
import { shortHash } from './names.js';
import { addressSetOf, compileRule, namedPortSetOf, SetRequests, type SetRequest } from './rules.js';

const syntheticProfiles = new Map<string, Profile>();

/** A profile whose only rule, in both directions, is `action`; one object per name so compiled rules are cached. */
function syntheticProfile(name: string, action: 'Allow' | 'Deny'): Profile {
  const key = `${action}/${name}`;
  let p = syntheticProfiles.get(key);
  if (!p) {
    p = ProfileResource.parse({ apiVersion: API_VERSION, kind: 'Profile', metadata: { name }, spec: { ingress: [{ action }], egress: [{ action }] } });
    syntheticProfiles.set(key, p);
  }
  return p;
}

/** An entity that rule selectors can select: a host endpoint or a GlobalNetworkSet. */
export interface Selectable {
  kind: 'HostEndpoint' | 'GlobalNetworkSet';
  name: string;
  labels: Labels;
  nets: Cidr[];
  hep?: HostEndpoint;
}

/**
 * What compiling any host of one desired state needs, prepared once: endpoint labels with
 * inherited profile labels, selector → members and the sets built from them, which are the same
 * for every host (address sets span the whole repository). Compiling 100 hosts shares one
 * context; what depends only on a resource's text lives in the `CompileCache`, which outlives it.
 */
export class CompileContext {
  private readonly members = new Map<string, Selectable[]>();
  private readonly addressSets = new Map<string, AddressSet>();
  private readonly namedPortSets = new Map<string, NamedPortSet>();
  readonly selectables: Selectable[];
  readonly hepLabels = new Map<string, Labels>();
  private readonly hepsByNode = new Map<string, HostEndpoint[]>();
  private readonly profilesByName: Map<string, Profile>;

  constructor(
    readonly state: DesiredState,
    readonly cache: CompileCache = new CompileCache(),
  ) {
    this.profilesByName = new Map(state.profiles.map((p) => [p.metadata.name, p]));
    for (const hep of state.hostEndpoints) {
      // Earlier profiles win over later ones, the endpoint's own labels over all of them.
      const inherited = [...hep.spec.profiles].reverse().map((p) => this.profilesByName.get(p)?.spec.labelsToApply ?? {});
      this.hepLabels.set(hep.metadata.name, Object.assign({}, ...inherited, hep.metadata.labels));
      const list = this.hepsByNode.get(hep.spec.node) ?? [];
      list.push(hep);
      this.hepsByNode.set(hep.spec.node, list);
    }
    this.selectables = [
      ...state.hostEndpoints.map((hep): Selectable => ({
        kind: 'HostEndpoint',
        name: hep.metadata.name,
        labels: this.hepLabels.get(hep.metadata.name) ?? {},
        nets: hep.spec.expectedIPs.map((ip) => cache.cidr(ip)).filter((c): c is Cidr => c !== null),
        hep,
      })),
      ...state.networkSets.map((set): Selectable => ({
        kind: 'GlobalNetworkSet',
        name: set.metadata.name,
        labels: set.metadata.labels,
        // parseCidr again only to throw its AddressError for a net the memo holds as invalid.
        nets: set.spec.nets.map((n) => cache.cidr(n) ?? parseCidr(n)),
      })),
    ];
  }

  selector(text: string): Selector {
    return this.cache.selector(text);
  }

  /** Canonical text of `selector && !notSelector` (either may be absent): the identity of a set. */
  canonical(selector: string | undefined, notSelector: string | undefined): string {
    const pos = selector !== undefined ? this.selector(selector).toString() : undefined;
    const neg = notSelector !== undefined ? this.selector(notSelector).toString() : undefined;
    return pos !== undefined && neg !== undefined ? `(${pos}) && !(${neg})` : (pos ?? neg ?? 'all()');
  }

  /** Members of `selector && !notSelector` (either may be absent), cached by canonical text. */
  membersOf(selector: string | undefined, notSelector: string | undefined): { canonical: string; members: Selectable[] } {
    const canonical = this.canonical(selector, notSelector);
    let members = this.members.get(canonical);
    if (!members) {
      const pos = selector !== undefined ? this.selector(selector) : undefined;
      const neg = notSelector !== undefined ? this.selector(notSelector) : undefined;
      members = this.selectables.filter((e) => (!pos || pos.matches(e.labels)) && (!neg || (pos ? !neg.matches(e.labels) : neg.matches(e.labels))));
      this.members.set(canonical, members);
    }
    return { canonical, members };
  }

  /** A requested set with this revision's members, built once per revision whatever the number of hosts. */
  addressSet(req: Extract<SetRequest, { kind: 'address' }>): AddressSet {
    let set = this.addressSets.get(req.id);
    if (!set) {
      const { canonical, members } = this.membersOf(req.selector, req.notSelector);
      set = addressSetOf(req, canonical, members);
      this.addressSets.set(req.id, set);
    }
    return set;
  }

  namedPortSet(req: Extract<SetRequest, { kind: 'namedPort' }>): NamedPortSet {
    let set = this.namedPortSets.get(req.id);
    if (!set) {
      const { canonical, members } = this.membersOf(req.selector, req.notSelector);
      set = namedPortSetOf(req, canonical, members);
      this.namedPortSets.set(req.id, set);
    }
    return set;
  }

  /** A policy's or profile's rules for one direction, compiled once per distinct content. */
  compiledRules(resource: GlobalNetworkPolicy | Profile, direction: Direction): CompiledRules {
    // One key per resource object, not per direction: the same string instance keeps its hash.
    const entry = this.cache.rules.get(contentKey(resource), () => ({}));
    return (entry[direction] ??= this.compile(direction === 'ingress' ? resource.spec.ingress : resource.spec.egress));
  }

  private compile(rules: readonly Rule[]): CompiledRules {
    const sets = new SetRequests((s, n) => this.canonical(s, n));
    return { rules: rules.map((r, i) => compileRule(r, i, sets)), sets: sets.list };
  }

  hepsOf(node: string): HostEndpoint[] {
    return this.hepsByNode.get(node) ?? [];
  }

  /**
   * The profile an endpoint lists, as Felix sees it: the built-in `projectcalico-default-allow`
   * unless defined, and for a name that does not exist Felix's default-drop profile
   * (felix/calc/active_rules_calculator.go:366 `DummyDropRules`, used at :397 "generating
   * default-drop profile"), so a missing profile never lets a later profile allow.
   */
  profile(name: string): { profile: Profile; missing: boolean } {
    const found = this.profilesByName.get(name);
    if (found) return { profile: found, missing: false };
    if (name === DEFAULT_ALLOW_PROFILE) return { profile: syntheticProfile(name, 'Allow'), missing: false };
    return { profile: syntheticProfile(name, 'Deny'), missing: true };
  }

  private hostPolicies: { policies: GlobalNetworkPolicy[]; selectors: Selector[]; fingerprint: string } | undefined;

  /** The GNPs that apply to a HEP, in state order (docs/calico-model.md §3.1). */
  policiesFor(hep: HostEndpoint): GlobalNetworkPolicy[] {
    this.hostPolicies ??= this.hostPolicyIndex();
    const { policies, selectors, fingerprint } = this.hostPolicies;
    const labels = this.hepLabels.get(hep.metadata.name) ?? {};
    // The same label set meets the same policy selectors in every host and every revision that
    // did not change a policy's selector: evaluate the 1,000 selectors once per label set.
    const key = `${fingerprint}\n${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
    const picked = this.cache.selections.get(key, () => selectors.flatMap((s, i) => (s.matches(labels) ? [i] : [])));
    return picked.map((i) => policies[i]!);
  }

  private hostPolicyIndex() {
    // namespaceSelector / serviceAccountSelector restrict a policy to workloads.
    const policies = this.state.policies.filter((p) => p.spec.namespaceSelector === undefined && p.spec.serviceAccountSelector === undefined);
    const selectors = policies.map((p) => this.selector(p.spec.selector));
    const fingerprint = shortHash(selectors.map((s) => s.toString()).join('\n'));
    return { policies, selectors, fingerprint };
  }
}
