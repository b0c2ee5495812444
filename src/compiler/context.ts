import type { GlobalNetworkPolicy, HostEndpoint } from '../model/schemas.js';
import { parseSelector, type Labels, type Selector } from '../selector/index.js';
import type { DesiredState } from '../state/desired-state.js';
import { parseCidr, tryParseCidr, type Cidr } from './cidr.js';

/** An entity that rule selectors can select: a host endpoint or a GlobalNetworkSet. */
export interface Selectable {
  kind: 'HostEndpoint' | 'GlobalNetworkSet';
  name: string;
  labels: Labels;
  nets: Cidr[];
  hep?: HostEndpoint;
}

/**
 * What compiling any host of one desired state needs, prepared once: parsed selectors, endpoint
 * labels with inherited profile labels, and selector → members, which is the same for every host
 * (address sets span the whole repository). Compiling 100 hosts shares one context.
 */
export class CompileContext {
  private readonly selectors = new Map<string, Selector>();
  private readonly members = new Map<string, Selectable[]>();
  readonly selectables: Selectable[];
  readonly hepLabels = new Map<string, Labels>();
  private readonly hepsByNode = new Map<string, HostEndpoint[]>();

  constructor(readonly state: DesiredState) {
    const profileLabels = new Map(state.profiles.map((p) => [p.metadata.name, p.spec.labelsToApply]));
    for (const hep of state.hostEndpoints) {
      // Earlier profiles win over later ones, the endpoint's own labels over all of them.
      const inherited = [...hep.spec.profiles].reverse().map((p) => profileLabels.get(p) ?? {});
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
        nets: hep.spec.expectedIPs.map((ip) => tryParseCidr(ip)).filter((c): c is Cidr => c !== null),
        hep,
      })),
      ...state.networkSets.map((set): Selectable => ({
        kind: 'GlobalNetworkSet',
        name: set.metadata.name,
        labels: set.metadata.labels,
        nets: set.spec.nets.map((n) => parseCidr(n)),
      })),
    ];
  }

  selector(text: string): Selector {
    let s = this.selectors.get(text);
    if (!s) {
      s = parseSelector(text);
      this.selectors.set(text, s);
    }
    return s;
  }

  /** Members of `selector && !notSelector` (either may be absent), cached by canonical text. */
  membersOf(selector: string | undefined, notSelector: string | undefined): { canonical: string; members: Selectable[] } {
    const pos = selector !== undefined ? this.selector(selector) : undefined;
    const neg = notSelector !== undefined ? this.selector(notSelector) : undefined;
    const canonical = pos && neg ? `(${pos.toString()}) && !(${neg.toString()})` : pos ? pos.toString() : neg ? neg.toString() : 'all()';
    let members = this.members.get(canonical);
    if (!members) {
      members = this.selectables.filter((e) => (!pos || pos.matches(e.labels)) && (!neg || (pos ? !neg.matches(e.labels) : neg.matches(e.labels))));
      this.members.set(canonical, members);
    }
    return { canonical, members };
  }

  hepsOf(node: string): HostEndpoint[] {
    return this.hepsByNode.get(node) ?? [];
  }

  private hostPolicies: { policy: GlobalNetworkPolicy; selector: Selector }[] | undefined;

  /** The GNPs that apply to a HEP, in state order (calico-model.md §3.1). */
  policiesFor(hep: HostEndpoint): GlobalNetworkPolicy[] {
    // namespaceSelector / serviceAccountSelector restrict a policy to workloads.
    this.hostPolicies ??= this.state.policies
      .filter((p) => p.spec.namespaceSelector === undefined && p.spec.serviceAccountSelector === undefined)
      .map((policy) => ({ policy, selector: this.selector(policy.spec.selector) }));
    const labels = this.hepLabels.get(hep.metadata.name) ?? {};
    const out: GlobalNetworkPolicy[] = [];
    for (const { policy, selector } of this.hostPolicies) if (selector.matches(labels)) out.push(policy);
    return out;
  }
}
