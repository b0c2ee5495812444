import { createHash } from 'node:crypto';
import type {
  CompiledRule,
  Direction,
  EndpointProgram,
  EntityMatch,
  Family,
  FamilyMatch,
  HostProgram,
  PortMatch,
  RuleChain,
  StageKind,
  StageProgram,
} from '../compiler/ir.js';
import { stageKey } from '../compiler/ir.js';
import { failsafeChain, type FailsafeRule } from '../compiler/failsafe.js';
import { SAFE_IFNAME, safeId } from '../compiler/names.js';

export const TABLE = 'inet palisade';
/** Packet-mark bits Palisade owns: accepted by an earlier (untracked / pre-DNAT) stage, and tier pass. */
export const ACCEPT_MARK = 0x01000000;
export const PASS_MARK = 0x02000000;
const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const CLEAR_MARKS = hex(~(ACCEPT_MARK | PASS_MARK) >>> 0);
const LOG_PREFIX = 'palisade-packet: ';

export class RenderError extends Error {
  readonly code = 'RENDER_UNSAFE_NAME';
  constructor(message: string) {
    super(message);
    this.name = 'RenderError';
  }
}

const IDENT = /^[a-z][a-z0-9._-]{0,63}$/;
/** Every chain and set name passes here: a program read from JSON cannot smuggle nft syntax in. */
function ident(name: string): string {
  if (!IDENT.test(name)) throw new RenderError(`refusing to render nft identifier ${JSON.stringify(name)}`);
  return name;
}
function ifname(name: string): string {
  if (!SAFE_IFNAME.test(name)) throw new RenderError(`refusing to render interface name ${JSON.stringify(name)}`);
  return `"${name}"`;
}
function prefixPattern(prefix: string): string {
  if (!/^[a-zA-Z0-9_-]{1,15}$/.test(prefix)) throw new RenderError(`refusing to render interface prefix ${JSON.stringify(prefix)}`);
  return `"${prefix}*"`;
}
/** nft strings have no escapes: keep a conservative alphabet, replace the rest. */
export function comment(text: string): string {
  return `comment "${text.replace(/[^A-Za-z0-9 ._:/=,()*+-]/g, '_').slice(0, 120)}"`;
}
/** Addresses are re-checked because they are spliced into the text unquoted. */
function addr(text: string): string {
  if (!/^[0-9a-fA-F.:]+(\/[0-9]{1,3})?$/.test(text)) throw new RenderError(`refusing to render address ${JSON.stringify(text)}`);
  return text;
}
function num(n: number, max: number): string {
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RenderError(`refusing to render number ${n}`);
  return String(n);
}

const ipOf = (family: Family) => (family === 4 ? 'ip' : 'ip6');
const anon = (items: string[]) => (items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`);

export const chainNames = {
  endpoint: (stage: StageKind, direction: Direction, hep: string) =>
    safeId({ untracked: 'u', prednat: 'p', normal: '', forward: 'fw' }[stage] + (direction === 'ingress' ? 'fh' : 'th'), hep),
};

/**
 * The full nft batch for one host: make sure the table exists, delete it, define it again. One
 * `nft -f` runs it as one transaction, so the host sees the old table or the new one, never a mix,
 * and nothing outside `table inet palisade` is touched. Same program, same bytes.
 */
export function renderNft(program: HostProgram): string {
  const out: string[] = [`table ${TABLE} {}`, `delete table ${TABLE}`, `table ${TABLE} {`];
  const chainById = new Map(program.chains.map((c) => [c.id, c]));

  for (const s of program.addressSets) {
    out.push(`\tset ${ident(s.id)} {`, `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}`, '\t\tflags interval');
    if (s.elements.length > 0) out.push(`\t\telements = { ${s.elements.map(addr).join(', ')} }`);
    out.push('\t}');
  }
  for (const s of program.namedPortSets) {
    out.push(`\tset ${ident(s.id)} {`, `\t\ttype ${s.family === 4 ? 'ipv4_addr' : 'ipv6_addr'} . inet_proto . inet_service`);
    if (s.elements.length > 0) out.push(`\t\telements = { ${s.elements.map((e) => `${addr(e.address)} . ${num(e.protocol, 255)} . ${num(e.port, 65535)}`).join(', ')} }`);
    out.push('\t}');
  }

  const base = (name: string, hook: string, priority: number, rules: string[]) => {
    out.push(`\tchain ${name} {`, `\t\ttype filter hook ${hook} priority ${priority}; policy accept;`, ...rules.map((r) => `\t\t${r}`), '\t}');
  };
  const clear = `meta mark set meta mark & ${CLEAR_MARKS} ${comment('clear Palisade marks')}`;
  const accepted = `meta mark & ${hex(ACCEPT_MARK)} == ${hex(ACCEPT_MARK)} accept ${comment('accepted by untracked or pre-DNAT policy')}`;
  const workloads = (dir: 'iifname' | 'oifname', verdict: string, why: string) =>
    program.workloadPrefixes.map((p) => `${dir} ${prefixPattern(p)} ${verdict} ${comment(why)}`);

  base('raw-prerouting', 'prerouting', -300, [clear, ...dispatch(program, 'untracked', 'ingress')]);
  base('raw-output', 'output', -300, [clear, ...dispatch(program, 'untracked', 'egress')]);
  // No workload exclusion here: Felix's mangle PREROUTING dispatches every interface, so a `*`
  // HEP's pre-DNAT policy also sees traffic from workloads (felix/rules/static.go:1007,
  // dispatch.go: the default rule has no workload skip; felix/fv/pre_dnat_test.go:249).
  base('mangle-prerouting', 'prerouting', -150, [accepted, ...dispatch(program, 'prednat', 'ingress')]);
  const toHost = { Drop: 'drop', Accept: 'accept', Return: 'return' }[program.defaultEndpointToHostAction];
  base('filter-input', 'input', 0, [accepted, ...workloads('iifname', toHost, `defaultEndpointToHostAction ${program.defaultEndpointToHostAction}`), ...dispatch(program, 'normal', 'ingress')]);
  base('filter-output', 'output', 0, [accepted, ...workloads('oifname', 'return', 'host to workload is not host-endpoint policy'), ...dispatch(program, 'normal', 'egress')]);
  // Two forward hooks: the in-interface's verdict accept must not skip the out-interface's policy.
  base('filter-forward-in', 'forward', -1, [accepted, ...workloads('iifname', 'return', 'workload interface'), ...dispatch(program, 'forward', 'ingress')]);
  base('filter-forward-out', 'forward', 0, [accepted, ...workloads('oifname', 'return', 'workload interface'), ...dispatch(program, 'forward', 'egress')]);

  out.push('\tchain failsafe-in {', ...failsafeRules(failsafeChain(program.failsafe, 'filter', 'ingress'), 'inbound'), '\t}');
  out.push('\tchain failsafe-out {', ...failsafeRules(failsafeChain(program.failsafe, 'filter', 'egress'), 'outbound'), '\t}');
  // The raw table's own failsafe chains (with the replies), only where untracked policy uses them.
  if (program.endpoints.some((e) => e.stages['untracked-ingress'] || e.stages['untracked-egress'])) {
    out.push('\tchain raw-failsafe-in {', ...failsafeRules(failsafeChain(program.failsafe, 'raw', 'ingress'), 'inbound'), '\t}');
    out.push('\tchain raw-failsafe-out {', ...failsafeRules(failsafeChain(program.failsafe, 'raw', 'egress'), 'outbound'), '\t}');
  }

  for (const ep of program.endpoints) {
    for (const [key, stage] of Object.entries(ep.stages) as [string, StageProgram][]) {
      const [kind, direction] = key.split('-') as [StageKind, Direction];
      out.push(`\tchain ${ident(chainNames.endpoint(kind, direction, ep.hep))} {`, ...endpointRules(ep, kind, direction, stage, chainById).map((r) => `\t\t${r}`), '\t}');
    }
  }
  const extra: string[] = [];
  for (const chain of program.chains) {
    const rendered = chainLines(chain);
    out.push(`\tchain ${ident(chain.id)} {`, ...rendered.lines, '\t}');
    extra.push(...rendered.extra);
  }
  out.push(...extra, '}');
  return `${out.join('\n')}\n`;
}

export function rulesetHash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function dispatch(program: HostProgram, stage: StageKind, direction: Direction): string[] {
  const key = stageKey(stage, direction);
  const match = direction === 'ingress' ? 'iifname' : 'oifname';
  const entries: string[] = [];
  const byHep = new Map(program.endpoints.map((e) => [e.hep, e]));
  for (const b of program.interfaces) {
    if (b.role !== 'hep' || b.via === 'wildcard' || !b.hep) continue;
    const ep = byHep.get(b.hep);
    // An interface with its own HEP must not fall through to the `*` HEP in a stage it lacks.
    entries.push(`${ifname(b.iface)} : ${ep?.stages[key] ? `goto ${ident(chainNames.endpoint(stage, direction, b.hep))}` : 'return'}`);
  }
  const rules: string[] = [];
  const anyStage = entries.some((e) => e.includes('goto'));
  const wildcard = program.endpoints.find((e) => e.wildcard && e.stages[key]);
  if (entries.length > 0 && (anyStage || wildcard)) rules.push(`${match} vmap { ${entries.join(', ')} } ${comment(`${stage} ${direction} dispatch by interface`)}`);
  if (wildcard) rules.push(`goto ${ident(chainNames.endpoint(stage, direction, wildcard.hep))} ${comment(`HostEndpoint ${wildcard.hep} (interfaceName *)`)}`);
  return rules;
}

function failsafeRules(rules: readonly FailsafeRule[], label: string): string[] {
  const out: string[] = [];
  for (const portOf of ['destination', 'source'] as const) {
    const th = portOf === 'destination' ? 'dport' : 'sport';
    const plain = rules.filter((f) => f.portOf === portOf && f.net === undefined).map((f) => `${f.protocol} . ${num(f.port, 65535)}`);
    if (plain.length > 0) out.push(`meta l4proto . th ${th} { ${[...new Set(plain)].join(', ')} } accept ${comment(`failsafe ${label}${portOf === 'source' ? ' reply' : ''}`)}`);
    for (const f of rules.filter((x) => x.portOf === portOf && x.net !== undefined)) {
      const family = f.net!.includes(':') ? 6 : 4;
      const peer = f.netOf === 'source' ? 'saddr' : 'daddr';
      out.push(`${ipOf(family)} ${peer} ${addr(f.net!)} meta l4proto ${f.protocol} th ${th} ${num(f.port, 65535)} accept ${comment(`failsafe ${label} ${f.protocol}/${f.port} ${f.net}${portOf === 'source' ? ' reply' : ''}`)}`);
    }
  }
  return out.map((r) => `\t\t${r}`);
}

function endpointRules(ep: EndpointProgram, stage: StageKind, direction: Direction, program: StageProgram, chains: Map<string, RuleChain>): string[] {
  const rules: string[] = [];
  const label = `HostEndpoint ${ep.hep} ${stage} ${direction}`;
  if (stage === 'normal' || stage === 'forward') {
    rules.push(
      `ct state established,related accept ${comment(`${label}: established`)}`,
      // A TCP segment without SYN that conntrack sees as new belongs to a connection opened
      // before connection tracking began in this namespace (the first table started it; the
      // kernel picks such connections up mid-stream): the agent's etcd stream, an SSH session.
      // Dropping it cuts them for good; no new connection can start this way (that needs a SYN).
      `ct state new tcp flags & (syn | ack) == ack accept ${comment(`${label}: opened before tracking began`)}`,
      `ct state invalid drop ${comment(`${label}: invalid`)}`,
    );
  } else if (stage === 'prednat') {
    rules.push(`ct state established,related accept ${comment(`${label}: established`)}`);
  }
  if (stage !== 'forward') rules.push(`jump ${stage === 'untracked' ? 'raw-' : ''}failsafe-${direction === 'ingress' ? 'in' : 'out'} ${comment(`${label}: failsafe`)}`);
  const pass = `meta mark & ${hex(PASS_MARK)} == 0x00000000`;
  for (const tier of program.tiers) {
    rules.push(`meta mark set meta mark & ${hex(~PASS_MARK >>> 0)} ${comment(`start of tier ${tier.name}`)}`);
    for (const [i, id] of tier.policies.entries()) {
      const name = chains.get(id)?.name ?? id;
      rules.push(`${i === 0 ? '' : `${pass} `}jump ${ident(id)} ${comment(`tier ${tier.name} policy ${name}`)}`);
    }
    if (tier.endOfTier === 'drop') rules.push(`${pass} drop ${comment(`end of tier ${tier.name}`)}`);
  }
  for (const id of program.profiles) rules.push(`jump ${ident(id)} ${comment(`profile ${chains.get(id)?.name ?? id}`)}`);
  if (program.final === 'drop') rules.push(`drop ${comment(`${label}: no policy or profile allowed`)}`);
  return rules;
}

/**
 * A policy's chain is the same on every host it selects (the compiler shares one rules array per
 * policy and direction), so its lines are rendered once per chain, not once per host: for a fleet
 * that is most of the rendering. Keyed weakly by that array, so a dropped policy frees its text.
 */
const renderedChains = new WeakMap<readonly CompiledRule[], Map<string, { lines: string[]; extra: string[] }>>();
function chainLines(chain: RuleChain): { lines: string[]; extra: string[] } {
  let byChain = renderedChains.get(chain.rules);
  if (!byChain) renderedChains.set(chain.rules, (byChain = new Map()));
  // Everything of the chain `ruleLines` reads besides its rules.
  const key = [chain.id, chain.kind, chain.name, chain.direction, chain.stage].join('\0');
  let rendered = byChain.get(key);
  if (!rendered) {
    const extra: string[] = [];
    rendered = { lines: chain.rules.flatMap((r) => ruleLines(chain, r, extra)).map((r) => `\t\t${r}`), extra };
    byChain.set(key, rendered);
  }
  return rendered;
}

function verdictOf(chain: RuleChain, rule: CompiledRule): string {
  switch (rule.action) {
    case 'deny':
      return 'drop';
    case 'log':
      return `log prefix "${LOG_PREFIX}"`;
    case 'pass':
      return chain.kind === 'profile' ? 'return' : `meta mark set meta mark | ${hex(PASS_MARK)} return`;
    case 'allow':
      if (chain.stage === 'untracked') return `notrack meta mark set meta mark | ${hex(ACCEPT_MARK)} accept`;
      if (chain.stage === 'prednat') return `meta mark set meta mark | ${hex(ACCEPT_MARK)} accept`;
      return 'accept';
  }
}

/**
 * One line per alternative of every family match. Alternatives come from ORs that one nft rule
 * cannot say (numeric and named ports together; `notICMP` without an ICMP protocol). A Log rule with
 * several alternatives goes to its own chain so that a packet is logged once.
 */
function ruleLines(chain: RuleChain, rule: CompiledRule, extra: string[]): string[] {
  const label = `${chain.kind} ${chain.name} ${chain.direction} rule ${rule.index}`;
  const alternatives = rule.matches.flatMap(familyAlternatives);
  const verdict = verdictOf(chain, rule);
  if (rule.action === 'log' && alternatives.length > 1) {
    const sub = ident(`${chain.id}.r${rule.index}`);
    extra.push(`\tchain ${sub} {`, ...alternatives.map((a) => `\t\t${join(a, `${verdict} return`)} ${comment(label)}`), '\t}');
    return [`jump ${sub} ${comment(label)}`];
  }
  return alternatives.map((a) => `${join(a, verdict)} ${comment(label)}`);
}

const join = (conds: string[], verdict: string) => [...conds, verdict].join(' ');

function familyAlternatives(m: FamilyMatch): string[][] {
  const base: string[] = [];
  if (m.family !== null) base.push(`meta nfproto ${m.family === 4 ? 'ipv4' : 'ipv6'}`);
  if (m.protocol !== undefined) base.push(`meta l4proto ${num(m.protocol, 255)}`);
  if (m.notProtocol !== undefined) base.push(`meta l4proto != ${num(m.notProtocol, 255)}`);
  const groups: string[][][] = [[base]];
  groups.push(...entity(m.src, m.family, 'saddr', 'sport'), ...entity(m.dst, m.family, 'daddr', 'dport'));
  if (m.icmp !== undefined) {
    const icmp = icmpKeyword(m);
    groups.push([[`${icmp} type ${num(m.icmp.type, 255)}`, ...(m.icmp.code !== undefined ? [`${icmp} code ${num(m.icmp.code, 255)}`] : [])]]);
  }
  if (m.notIcmp !== undefined) {
    // Felix's nftables dataplane writes `icmp type != T code != C` (felix/nftables/match_builder.go:453);
    // nft (1.0.6) compiles that into one comparison of the (type, code) pair, so in effect the
    // pair is negated, as in Felix's iptables dataplane; and, like any ICMP header match, only
    // ICMP packets of the rule's family match. nft 1.0.6 rejects `!= 8 . 1`, hence the set.
    const icmp = icmpKeyword(m);
    const { type, code } = m.notIcmp;
    groups.push([[code === undefined ? `${icmp} type != ${num(type, 255)}` : `${icmp} type . ${icmp} code != { ${num(type, 255)} . ${num(code, 255)} }`]]);
  }
  // Cartesian product of the OR-groups.
  return groups.reduce<string[][]>((acc, g) => acc.flatMap((a) => g.map((alt) => [...a, ...alt])), [[]]);
}

const icmpKeyword = (m: FamilyMatch) => (m.family === 6 || m.protocol === 58 ? 'icmpv6' : 'icmp');

function entity(e: EntityMatch, family: Family | null, dir: 'saddr' | 'daddr', port: 'sport' | 'dport'): string[][][] {
  const groups: string[][][] = [];
  const ip = family !== null ? ipOf(family) : null;
  const conj: string[] = [];
  if (ip && e.nets && e.nets.length > 0) conj.push(`${ip} ${dir} ${anon(e.nets.map(addr))}`);
  if (ip && e.notNets && e.notNets.length > 0) conj.push(`${ip} ${dir} != ${anon(e.notNets.map(addr))}`);
  if (ip && e.set) conj.push(`${ip} ${dir} @${ident(e.set)}`);
  if (ip && e.notSet) conj.push(`${ip} ${dir} != @${ident(e.notSet)}`);
  if (e.notPorts) {
    if (e.notPorts.ranges.length > 0) conj.push(`th ${port} != ${portSet(e.notPorts)}`);
    if (ip && e.notPorts.namedSet) conj.push(`${ip} ${dir} . meta l4proto . th ${port} != @${ident(e.notPorts.namedSet)}`);
  }
  groups.push([conj]);
  if (e.ports) {
    const alts: string[][] = [];
    if (e.ports.ranges.length > 0) alts.push([`th ${port} ${portSet(e.ports)}`]);
    if (ip && e.ports.namedSet) alts.push([`${ip} ${dir} . meta l4proto . th ${port} @${ident(e.ports.namedSet)}`]);
    groups.push(alts);
  }
  return groups;
}

function portSet(p: PortMatch): string {
  return anon(p.ranges.map(([lo, hi]) => (lo === hi ? num(lo, 65535) : `${num(lo, 65535)}-${num(hi, 65535)}`)));
}

