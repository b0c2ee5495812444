import type { CompileContext } from '../compiler/context.js';
import type { HostFacts, HostProgram, RuleChain } from '../compiler/ir.js';
import { PROTO_TCP } from '../compiler/protocols.js';
import type { GlobalNetworkPolicy, HostEndpoint, Profile, Rule } from '../model/schemas.js';
import { intersect, universe } from '../headerspace/box.js';
import { contextsOf, FAMILIES } from '../headerspace/diff.js';
import { evaluate, evaluateRegion } from '../headerspace/evaluate.js';
import type { Step } from '../simulator/index.js';
import { effectiveFelix } from '../state/desired-state.js';
import type { FieldLocator } from './locate.js';
import type { Lint, LintCode } from './plan-report.js';
import { appliedPolicies } from './affected-hosts.js';
import type { CheckNeed } from './check-needs.js';
import { directionView, stepLocation } from './exact-changes.js';
import { needBox } from './lockout.js';
import { mayOverlap, namesPort, restrictsPeer } from './rule-cover.js';
import { entitySelector } from '../compiler/entity-selector.js';

export type Finding = Omit<Lint, 'new'>;

export interface LintInput {
  ctx: CompileContext;
  locator: FieldLocator;
  /** The program of a node under this revision, with the interfaces the plan assumes (compiled on demand). */
  programOf(node: string): HostProgram;
  facts: ReadonlyMap<string, HostFacts>;
  /** Management networks (CIDR text). */
  management: readonly string[];
}

const DIRECTIONS = [
  ['ingress', 'Ingress'],
  ['egress', 'Egress'],
] as const;

type Path = (string | number)[];

/** Every lint of one revision, in file order. Pure: the same repository gives the same findings. */
export function lintRevision(input: LintInput): Finding[] {
  const { ctx, locator } = input;
  const { state } = ctx;
  const findings: Finding[] = [];
  const add = (code: LintCode, kind: string, name: string, path: Path, text: { message: string; why: string; fix: string }) => {
    const at = locator.locate(`${kind}/${name}`, path) ?? { file: '<unknown>', line: 1, col: 1 };
    findings.push({ code, kind, name, ...(path.length > 0 ? { field: fieldText(path) } : {}), ...at, ...text });
  };

  const hepByName = new Map(state.hostEndpoints.map((h) => [h.metadata.name, h]));
  const applied = new Map([...appliedPolicies(ctx)].map(([policy, heps]) => [policy, heps.map((h) => hepByName.get(h)!)]));
  const nodesOf = (p: GlobalNetworkPolicy) => [...new Set((applied.get(p.metadata.name) ?? []).map((h) => h.spec.node))].sort();

  for (const np of state.networkPolicies) {
    add('network-policy-in-host-repo', 'NetworkPolicy', np.metadata.name, [], {
      message: `NetworkPolicy ${np.metadata.name} never applies to a host endpoint`,
      why: 'Calico confines a NetworkPolicy to workloads in its namespace; in a host-protection repository it protects nothing.',
      fix: 'Make it a GlobalNetworkPolicy (kind: GlobalNetworkPolicy, without metadata.namespace), or delete it.',
    });
  }

  for (const p of state.policies) {
    if ((applied.get(p.metadata.name) ?? []).length === 0) {
      add('policy-selects-nothing', 'GlobalNetworkPolicy', p.metadata.name, ['spec', 'selector'], {
        message: `selector ${JSON.stringify(p.spec.selector)} matches none of the ${state.hostEndpoints.length} host endpoints`,
        why: 'The policy has no effect on any host; a typo in the selector or a label missing on the host endpoints is the usual cause.',
        fix: 'Fix the selector, or add the labels it expects to the host endpoints it is meant for.',
      });
    }
  }

  const ruleOwners: { kind: 'GlobalNetworkPolicy' | 'Profile'; resource: GlobalNetworkPolicy | Profile }[] = [
    ...state.policies.map((resource) => ({ kind: 'GlobalNetworkPolicy' as const, resource })),
    ...state.profiles.map((resource) => ({ kind: 'Profile' as const, resource })),
  ];
  const selectedWithoutIps = new Map<string, { hep: HostEndpoint; by: string }>();
  for (const { kind, resource } of ruleOwners) {
    const name = resource.metadata.name;
    const policyNodes = kind === 'GlobalNetworkPolicy' ? nodesOf(resource as GlobalNetworkPolicy) : [];
    for (const [direction, type] of DIRECTIONS) {
      if (kind === 'GlobalNetworkPolicy' && !(resource as GlobalNetworkPolicy).spec.types.includes(type)) continue;
      const rules: Rule[] = resource.spec[direction];
      rules.forEach((rule, j) => {
        for (const side of ['source', 'destination'] as const) {
          const e = rule[side];
          const selector = entitySelector(e);
          if (selector === undefined) continue;
          const { members } = ctx.membersOf(selector, e.notSelector || undefined);
          if (!members.some((m) => m.nets.length > 0)) {
            add('rule-selector-empty', kind, name, ['spec', direction, j, side, 'selector'], {
              message: `${side} selector ${JSON.stringify(selector)} resolves to no address${members.length > 0 ? ` (it matches ${members.map((m) => m.name).join(', ')}, none with expectedIPs or nets)` : ''}`,
              why: 'Calico fills a rule selector with the expectedIPs of matching host endpoints and the nets of matching GlobalNetworkSets; an empty set never matches, so the rule never applies.',
              fix: 'Fix the selector, or give the matching host endpoints expectedIPs, or add a GlobalNetworkSet with these labels.',
            });
          }
          for (const m of members) {
            if (m.hep && m.hep.spec.expectedIPs.length === 0 && policyNodes.some((n) => n !== m.hep!.spec.node) && !selectedWithoutIps.has(m.name)) {
              selectedWithoutIps.set(m.name, { hep: m.hep, by: `${kind} ${name} spec.${direction}[${j}].${side}.selector` });
            }
          }
        }
      });
    }
  }
  for (const { hep, by } of selectedWithoutIps.values()) {
    add('host-endpoint-without-ips-selected', 'HostEndpoint', hep.metadata.name, ['spec'], {
      message: `HostEndpoint ${hep.metadata.name} has no expectedIPs but is selected by ${by}, which applies to other hosts`,
      why: "Rule selectors match a host endpoint through its expectedIPs only; without any, other hosts' rules can never match traffic from or to it.",
      fix: `Add the addresses of ${hep.spec.interfaceName ?? 'its interface'} on ${hep.spec.node} as spec.expectedIPs.`,
    });
  }

  const profileNames = new Set(state.profiles.map((p) => p.metadata.name));
  const withPolicy = new Set([...applied.values()].flat());
  for (const hep of state.hostEndpoints) {
    if (!withPolicy.has(hep) && !hep.spec.profiles.some((p) => profileNames.has(p))) {
      add('host-endpoint-unprotected', 'HostEndpoint', hep.metadata.name, ['metadata', 'labels'], {
        message: `no policy and no profile applies to HostEndpoint ${hep.metadata.name} (${hep.spec.node} ${hep.spec.interfaceName ?? hep.spec.expectedIPs.join(', ')})`,
        why: 'Calico denies all traffic of a host endpoint without policy, except failsafe ports and established connections.',
        fix: 'Add a GlobalNetworkPolicy whose selector matches its labels (or a profile), or remove the host endpoint if the interface should stay unpoliced.',
      });
    }
  }

  const failsafeRestricted = failsafeLints(input, applied, add);
  unreachableRules(input, failsafeRestricted, add);
  orderTies(input, applied, add);
  return findings.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.col - b.col || (a.code < b.code ? -1 : 1)));
}

type Add = (code: LintCode, kind: string, name: string, path: Path, text: { message: string; why: string; fix: string }) => void;

const fieldText = (path: Path) => path.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');

/**
 * The two failsafe lints: a rule that means to restrict a port Felix keeps open anyway (the
 * "protected server" of the Calico docs), and a failsafe list without SSH while no policy lets
 * the management network in.
 */
function failsafeLints({ ctx, programOf, facts, management }: LintInput, applied: Map<string, HostEndpoint[]>, add: Add): Set<string> {
  const { state } = ctx;
  const restricted = new Set<string>();
  for (const p of state.policies) {
    const nodes = [...new Set((applied.get(p.metadata.name) ?? []).map((h) => h.spec.node))].sort();
    for (const [direction, type] of DIRECTIONS) {
      if (!p.spec.types.includes(type)) continue;
      p.spec[direction].forEach((rule, j) => {
        if (rule.action !== 'Deny' && !(rule.action === 'Allow' && restrictsPeer(rule, direction))) return;
        const protocol = rule.protocol === 'TCP' || rule.protocol === 6 ? 'TCP' : rule.protocol === 'UDP' || rule.protocol === 17 ? 'UDP' : undefined;
        if (!protocol) return;
        const hits = new Map<number, string[]>();
        for (const node of nodes) {
          const felix = effectiveFelix(state, node);
          for (const f of direction === 'ingress' ? felix.failsafeInboundHostPorts : felix.failsafeOutboundHostPorts) {
            if (f.protocol === protocol && namesPort(rule, f.port)) hits.set(f.port, [...(hits.get(f.port) ?? []), node]);
          }
        }
        if (hits.size > 0) restricted.add(ruleKey('policy', p.metadata.name, direction, j));
        for (const [port, on] of hits) {
          const list = direction === 'ingress' ? 'failsafeInboundHostPorts' : 'failsafeOutboundHostPorts';
          add('failsafe-port-restricted', 'GlobalNetworkPolicy', p.metadata.name, ['spec', direction, j, 'destination', 'ports'], {
            message: `${direction} rule ${j} (${rule.action}) restricts ${protocol.toLowerCase()}/${port}, a failsafe port on ${summarise(on)}: the restriction has no effect`,
            why: `Felix accepts failsafe ports before any policy, so this rule never decides ${protocol.toLowerCase()}/${port} (the "protected server" situation in the Calico docs).`,
            fix: `Remove ${protocol}:${port} from ${list} in the FelixConfiguration, keeping an explicit Allow for it from the management network; or drop the rule.`,
          });
        }
      });
    }
  }

  const byConfig = new Map<string, string[]>();
  for (const node of facts.keys()) {
    if (effectiveFelix(state, node).failsafeInboundHostPorts.some((f) => f.protocol === 'TCP' && f.port === 22 && f.net === undefined)) continue;
    const program = programOf(node);
    if (program.endpoints.length === 0) continue;
    if (management.length > 0 && sshFromManagement(program, facts.get(node)!, management)) continue;
    const config = [`node.${node}`, 'default'].find((n) => state.felixConfigs.some((f) => f.metadata.name === n && f.spec.failsafeInboundHostPorts !== undefined));
    if (config) byConfig.set(config, [...(byConfig.get(config) ?? []), node]);
  }
  for (const [config, nodes] of byConfig) {
    add('failsafe-emptied-without-ssh', 'FelixConfiguration', config, ['spec', 'failsafeInboundHostPorts'], {
      message: `failsafeInboundHostPorts no longer keeps tcp/22 open and ${management.length === 0 ? 'no management network is known' : 'SSH from the management network is denied'} on ${summarise(nodes)}`,
      why: 'Without the failsafe, SSH depends on policy alone; one bad policy then locks every operator out of the host.',
      fix: 'Add a GlobalNetworkPolicy (ideally in a first tier) allowing TCP 22 from the management network (a GlobalNetworkSet labelled e.g. network: management), or keep TCP:22 in failsafeInboundHostPorts.',
    });
  }
  return restricted;
}

/** Whether every packet of SSH from the management network to the host, on every interface its endpoints govern, is let in. */
function sshFromManagement(program: HostProgram, facts: HostFacts, management: readonly string[]): boolean {
  const ssh: CheckNeed = { name: 'ssh', direction: 'ingress', service: { proto: PROTO_TCP, port: 22 }, expect: 'open', describe: '' };
  return program.interfaces
    .filter((b) => b.role === 'hep' && b.iface !== 'lo')
    .every((b) =>
      FAMILIES.every((family) => {
        const box = needBox(ssh, family, facts, management);
        if (!box) return true;
        return evaluateRegion(program, { iface: b.iface, direction: 'ingress' }, family, intersect(universe(family), [box])).every((p) => p.verdict !== 'deny');
      }),
    );
}

const ACTION_NAME = { allow: 'Allow', deny: 'Deny', pass: 'Pass', log: 'Log' } as const;

const ruleKey = (kind: 'policy' | 'profile', name: string, direction: string, index: number) => `${kind}|${name}|${direction}|${index}`;

interface Reach {
  chain: RuleChain;
  index: number;
  reached: boolean;
  matchable: boolean;
  blockers: Map<string, Step>;
}

/**
 * Rules no packet can reach: everything they match is decided (or passed on, or taken by a
 * failsafe) before them, by earlier rules of any policy of the tier, earlier tiers, failsafes,
 * on every host and interface they apply to. Found by evaluating each distinct program view once
 * over the whole header space; the blocking steps are named with their lines.
 */
function unreachableRules({ programOf, facts, locator }: LintInput, skip: ReadonlySet<string>, add: Add): void {
  const reach = new Map<string, Reach>();
  const done = new Set<string>();
  for (const [node, hostFacts] of facts) {
    const program = programOf(node);
    if (program.endpoints.length === 0) continue;
    for (const context of contextsOf(hostFacts.interfaces.map((i) => i.name), [program])) {
      if (context.forwardTo !== undefined) continue;
      // Hosts of one role differ only in names: their views (without endpoint names) are evaluated once.
      const view = directionView(program, context.iface, context.direction).replace(/"hep":"[^"]*"/g, '');
      if (done.has(view)) continue;
      done.add(view);
      for (const family of FAMILIES) {
        evaluate(program, context, family, {
          onRule: (v) => {
            const k = ruleKey(v.chain.kind, v.chain.name, v.chain.direction, v.rule.index);
            const r = reach.get(k) ?? { chain: v.chain, index: v.rule.index, reached: false, matchable: false, blockers: new Map() };
            r.reached ||= v.reached;
            r.matchable ||= v.matchable;
            for (const b of v.blockers) r.blockers.set(b.text, b);
            reach.set(k, r);
          },
        });
      }
    }
  }
  for (const [k, r] of reach) {
    // A rule only failsafes keep from matching is failsafe-port-restricted's case, with better advice.
    if (r.reached || !r.matchable || (skip.has(k) && [...r.blockers.values()].every((b) => b.text.startsWith('failsafe ')))) continue;
    const kind = r.chain.kind === 'policy' ? 'GlobalNetworkPolicy' : 'Profile';
    const blockers = [...r.blockers.values()].map((b) => {
      const at = b.text.startsWith('failsafe ') ? failsafeConfig(locator) : stepLocation(b, locator);
      return `${b.text}${at ? ` (${at.file}:${at.line})` : ''}`;
    });
    const rule = r.chain.rules.find((x) => x.index === r.index)!;
    add('rule-unreachable', kind, r.chain.name, ['spec', r.chain.direction, r.index], {
      message: `${r.chain.direction} rule ${r.index} (${ACTION_NAME[rule.action]}) can never match: everything it matches is decided before it by ${blockers.join('; ')}`,
      why: 'Rules, policies and tiers are evaluated in order and the first Allow, Deny or Pass (or a failsafe) ends the walk, so no packet ever reaches this rule.',
      fix: 'Move it before the rules that decide first, narrow those, or delete it.',
    });
  }
}

/** Where the failsafe lists are set (nowhere: Felix's defaults). */
const failsafeConfig = (locator: FieldLocator) => locator.locate('FelixConfiguration/default', ['spec']);

/** Same tier, same order, a host endpoint in common, and rules that could decide one packet differently. */
function orderTies({ ctx }: LintInput, applied: Map<string, HostEndpoint[]>, add: Add): void {
  const { state } = ctx;
  const byHep = new Map<string, GlobalNetworkPolicy[]>();
  for (const p of state.policies) for (const h of applied.get(p.metadata.name) ?? []) byHep.set(h.metadata.name, [...(byHep.get(h.metadata.name) ?? []), p]);
  const reported = new Set<string>();
  for (const [hep, policies] of byHep) {
    const groups = new Map<string, GlobalNetworkPolicy[]>();
    for (const p of policies) groups.set(`${p.spec.tier}|${p.spec.order ?? 'none'}`, [...(groups.get(`${p.spec.tier}|${p.spec.order ?? 'none'}`) ?? []), p]);
    for (const group of groups.values()) {
      const sorted = [...group].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
      for (let i = 0; i < sorted.length; i++) {
        for (let j = i + 1; j < sorted.length; j++) {
          const [a, b] = [sorted[i]!, sorted[j]!];
          const pair = `${a.metadata.name}|${b.metadata.name}`;
          if (reported.has(pair) || !conflict(a, b)) continue;
          reported.add(pair);
          const order = a.spec.order === null ? 'no order' : `order ${a.spec.order}`;
          add('order-tie', 'GlobalNetworkPolicy', b.metadata.name, a.spec.order === null ? [] : ['spec', 'order'], {
            message: `${a.metadata.name} and ${b.metadata.name} both have ${order} in tier ${a.spec.tier} and apply to ${hep}; ${a.metadata.name} decides first only because its name sorts first`,
            why: 'Calico breaks order ties by policy name, so renaming either policy silently changes which one decides.',
            fix: `Give them different orders (e.g. ${a.metadata.name}: ${(a.spec.order ?? 1000) - 1}), so the precedence is written down.`,
          });
        }
      }
    }
  }
}

function conflict(a: GlobalNetworkPolicy, b: GlobalNetworkPolicy): boolean {
  return DIRECTIONS.some(([direction, type]) => {
    if (!a.spec.types.includes(type) || !b.spec.types.includes(type)) return false;
    const decisive = (r: Rule) => r.action !== 'Log';
    return a.spec[direction].filter(decisive).some((ra) => b.spec[direction].filter(decisive).some((rb) => ra.action !== rb.action && mayOverlap(ra, rb)));
  });
}

function summarise(nodes: readonly string[]): string {
  return nodes.length <= 3 ? nodes.join(', ') : `${nodes.slice(0, 3).join(', ')} and ${nodes.length - 3} more`;
}

