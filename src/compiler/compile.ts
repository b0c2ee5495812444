import type { GlobalNetworkPolicy, HostEndpoint, ProtoPort } from '../model/schemas.js';
import { effectiveFelix, type DesiredState } from '../state/desired-state.js';
import { formatCidr, tryParseCidr } from '../net/cidr.js';
import { CompileContext } from './context.js';
import {
  stageKey,
  type Direction,
  type AddressSet,
  type EndpointProgram,
  type Failsafe,
  type HostFacts,
  type HostProgram,
  type InterfaceBinding,
  type NamedPortSet,
  type RuleChain,
  type StageKind,
  type StageProgram,
  type TierProgram,
} from './ir.js';
import { SAFE_IFNAME, safeId } from './names.js';
import type { SetRequest } from './rules.js';

/** Compiles the program of one host. Pure: same state and facts, same program. */
export function compileHost(state: DesiredState, host: HostFacts): HostProgram {
  return compileHostIn(new CompileContext(state), host);
}

/** Compiles many hosts of one state, sharing parsed selectors and address-set members. */
export function compileHosts(state: DesiredState, hosts: readonly HostFacts[]): Map<string, HostProgram> {
  const ctx = new CompileContext(state);
  return new Map(hosts.map((h) => [h.node, compileHostIn(ctx, h)]));
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** nil order is "infinite": last; ties by name (docs/calico-model.md §3.2). */
const byOrderThenName = (a: { order: number | null; name: string }, b: { order: number | null; name: string }) =>
  (a.order ?? Infinity) - (b.order ?? Infinity) || byName(a.name, b.name);

export function compileHostIn(ctx: CompileContext, host: HostFacts): HostProgram {
  const { state } = ctx;
  const felix = effectiveFelix(state, host.node);
  const warnings: string[] = [];
  const interfaces = resolveInterfaces(ctx.hepsOf(host.node), host, felix.interfacePrefixes, warnings, felix.interfaceExcluded);
  const chains = new Map<string, RuleChain>();
  const addressSets = new Map<string, AddressSet>();
  const namedPortSets = new Map<string, NamedPortSet>();
  const useSets = (requests: readonly SetRequest[]) => {
    for (const r of requests) {
      if (r.kind === 'address') addressSets.set(r.id, ctx.addressSet(r));
      else namedPortSets.set(r.id, ctx.namedPortSet(r));
    }
  };

  const active = new Map<string, { hep: HostEndpoint; interfaces: string[] }>();
  for (const b of interfaces) {
    if (b.role !== 'hep' || !b.hep) continue;
    const hep = ctx.hepsOf(host.node).find((h) => h.metadata.name === b.hep);
    if (!hep) continue;
    const entry = active.get(b.hep) ?? { hep, interfaces: [] };
    entry.interfaces.push(b.iface);
    active.set(b.hep, entry);
  }

  const tierRank = tierRanking(state);
  const endpoints: EndpointProgram[] = [];
  for (const { hep, interfaces: ifaces } of [...active.values()].sort((a, b) => byName(a.hep.metadata.name, b.hep.metadata.name))) {
    const wildcard = hep.spec.interfaceName === '*';
    const applicable = ctx.policiesFor(hep);
    const stages: EndpointProgram['stages'] = {};
    for (const direction of ['ingress', 'egress'] as const) {
      const type = direction === 'ingress' ? 'Ingress' : 'Egress';
      const inDirection = applicable.filter((p) => p.spec.types.includes(type));
      const untracked = inDirection.filter((p) => p.spec.doNotTrack);
      const prednat = inDirection.filter((p) => !p.spec.doNotTrack && p.spec.preDNAT);
      const normal = inDirection.filter((p) => !p.spec.doNotTrack && !p.spec.preDNAT);
      const forward = normal.filter((p) => p.spec.applyOnForward);

      if (untracked.length > 0 && wildcard) {
        warnings.push(`DoNotTrack policy is not supported for a HEP with interfaceName: * (HostEndpoint ${hep.metadata.name}); ignored`);
      } else if (untracked.length > 0) {
        stages[stageKey('untracked', direction)] = stage(untracked, 'untracked', direction, [], 'none');
      }
      if (prednat.length > 0 && direction === 'ingress') stages[stageKey('prednat', direction)] = stage(prednat, 'prednat', direction, [], 'none');
      stages[stageKey('normal', direction)] = stage(normal, 'normal', direction, profileChains(hep, direction), 'drop');
      // A HEP without applyOnForward policy in a direction leaves forwarded traffic alone.
      if (forward.length > 0) stages[stageKey('forward', direction)] = stage(forward, 'forward', direction, [], 'none');
    }
    endpoints.push({ hep: hep.metadata.name, wildcard, interfaces: ifaces.sort(byName), stages });
  }

  function stage(policies: GlobalNetworkPolicy[], kind: StageKind, direction: Direction, profiles: string[], final: 'drop' | 'none'): StageProgram {
    const tiers = new Map<string, GlobalNetworkPolicy[]>();
    for (const p of policies) {
      const list = tiers.get(p.spec.tier);
      if (list) list.push(p);
      else tiers.set(p.spec.tier, [p]);
    }
    const ordered: TierProgram[] = [...tiers.entries()]
      .sort(([a], [b]) => tierRank(a) - tierRank(b) || byName(a, b))
      .map(([name, list]) => ({
        name,
        endOfTier: kind === 'untracked' || kind === 'prednat' ? 'pass' : tierDefaultAction(state, name) === 'Pass' ? 'pass' : 'drop',
        policies: list
          .map((p) => ({ p, order: p.spec.order, name: p.metadata.name }))
          .sort(byOrderThenName)
          .map(({ p }) => policyChain(p, kind, direction)),
      }));
    return { tiers: ordered, profiles, final };
  }

  function policyChain(p: GlobalNetworkPolicy, kind: StageKind, direction: Direction): string {
    // Forward reuses the normal chain: both are filter-stage, Allow means accept.
    const chainStage = kind === 'forward' ? 'normal' : kind;
    const id = safeId(direction === 'ingress' ? 'pi' : 'po', p.metadata.name);
    if (!chains.has(id)) {
      const compiled = ctx.compiledRules(p, direction);
      useSets(compiled.sets);
      chains.set(id, { id, kind: 'policy', name: p.metadata.name, tier: p.spec.tier, direction, stage: chainStage, rules: compiled.rules });
    }
    return id;
  }

  function profileChains(hep: HostEndpoint, direction: Direction): string[] {
    const out: string[] = [];
    for (const name of hep.spec.profiles) {
      const { profile, missing } = ctx.profile(name);
      if (missing && direction === 'ingress') warnings.push(`HostEndpoint ${hep.metadata.name} lists profile ${name}, which does not exist: a default-drop profile stands in for it, as in Felix`);
      const id = safeId(direction === 'ingress' ? 'pri' : 'pro', name);
      if (!chains.has(id)) {
        const compiled = ctx.compiledRules(profile, direction);
        useSets(compiled.sets);
        chains.set(id, { id, kind: 'profile', name, direction, stage: 'normal', rules: compiled.rules });
      }
      out.push(id);
    }
    return out;
  }

  return {
    format: 'palisade.host-program/v1',
    node: host.node,
    interfaces,
    workloadPrefixes: felix.interfacePrefixes,
    defaultEndpointToHostAction: felix.defaultEndpointToHostAction,
    failsafe: { inbound: failsafes(felix.failsafeInboundHostPorts), outbound: failsafes(felix.failsafeOutboundHostPorts) },
    endpoints,
    chains: [...chains.values()].sort((a, b) => byName(a.id, b.id)),
    addressSets: [...addressSets.values()].sort((a, b) => byName(a.id, b.id)),
    namedPortSets: [...namedPortSets.values()].sort((a, b) => byName(a.id, b.id)),
    warnings,
  };
}

function failsafes(list: readonly ProtoPort[]): Failsafe[] {
  return list.map((f) => {
    const out: Failsafe = { protocol: f.protocol === 'UDP' ? 'udp' : 'tcp', port: f.port };
    const net = f.net !== undefined ? tryParseCidr(f.net) : null;
    if (net) out.net = formatCidr(net);
    return out;
  });
}

/**
 * HEP ↔ interface (docs/calico-model.md §3.5, §3.6): workload interfaces are never host endpoints; the
 * alphabetically first HEP naming the interface, or expecting one of its addresses, wins; else the
 * first `*` HEP; else the interface is left alone. Excluded interfaces (`interfaceExclude`) get
 * no HEP of their own. An interface whose name cannot be written into
 * nft safely can only be governed by the `*` HEP, which is matched without naming it.
 */
export function resolveInterfaces(
  heps: readonly HostEndpoint[],
  host: HostFacts,
  prefixes: readonly string[],
  warnings: string[] = [],
  excluded: (iface: string) => boolean = () => false,
): InterfaceBinding[] {
  const sorted = [...heps].sort((a, b) => byName(a.metadata.name, b.metadata.name));
  const wildcard = sorted.find((h) => h.spec.interfaceName === '*');
  const key = (ip: string) => {
    const c = tryParseCidr(ip.split('/')[0] ?? '');
    return c ? formatCidr(c) : null;
  };
  return [...host.interfaces]
    .sort((a, b) => byName(a.name, b.name))
    .map((iface): InterfaceBinding => {
      if (prefixes.some((p) => iface.name.startsWith(p))) return { iface: iface.name, role: 'workload' };
      // Felix never learns of an excluded interface, so no HEP resolves on it by name or address
      // (felix/dataplane/linux/endpoint_mgr.go:951 walks only reported interfaces); the `*` HEP's
      // catch-all dispatch rule (felix/rules/dispatch.go:180) still covers it, as it covers any
      // interface without a HEP of its own.
      if (excluded(iface.name)) return wildcard ? { iface: iface.name, role: 'hep', hep: wildcard.metadata.name, via: 'wildcard' } : { iface: iface.name, role: 'excluded' };
      const addresses = new Set(iface.addresses.map(key));
      const winner = sorted.find(
        (h) => h.spec.interfaceName === iface.name || (!h.spec.interfaceName && h.spec.expectedIPs.some((ip) => addresses.has(key(ip)))),
      );
      if (winner && !SAFE_IFNAME.test(iface.name)) {
        warnings.push(`interface ${JSON.stringify(iface.name)} cannot be named in nft safely; HostEndpoint ${winner.metadata.name} not applied to it`);
      } else if (winner) return { iface: iface.name, role: 'hep', hep: winner.metadata.name, via: winner.spec.interfaceName ? 'interfaceName' : 'expectedIPs' };
      if (wildcard) return { iface: iface.name, role: 'hep', hep: wildcard.metadata.name, via: 'wildcard' };
      return { iface: iface.name, role: 'unmanaged' };
    });
}

/** Tier position: Tier resources by order (nil last) then name; the implicit `default` at 1e6; unknown tiers after all. */
function tierRanking(state: DesiredState): (tier: string) => number {
  const known = state.tiers.map((t) => ({ name: t.metadata.name, order: t.spec.order }));
  if (!known.some((t) => t.name === 'default')) known.push({ name: 'default', order: 1e6 });
  const ranked = known.sort(byOrderThenName).map((t) => t.name);
  return (tier) => {
    const i = ranked.indexOf(tier);
    return i >= 0 ? i : ranked.length;
  };
}

function tierDefaultAction(state: DesiredState, tier: string): 'Deny' | 'Pass' {
  return state.tiers.find((t) => t.metadata.name === tier)?.spec.defaultAction ?? 'Deny';
}
