import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Wave } from '../eventlog/events.js';
import { CheckSpec } from '../checks/check-spec.js';
import { tryParseCidr } from '../net/cidr.js';
import { parsePacketProtocol } from '../compiler/protocols.js';
import type { ModelError } from '../model/errors.js';
import { parseSelector } from '../selector/index.js';
import type { DesiredState } from '../state/desired-state.js';
import { Duration } from './duration.js';
import { readYamlDocuments } from '../model/yaml-source.js';
import { parseIp } from '../net/cidr.js';

/**
 * `palisade.yaml`, next to the policies: how a revision is rolled out, reviewed in the same pull
 * request as the policy it rolls out. Absent file = the defaults below.
 */
export const ROLLOUT_CONFIG_FILE = 'palisade.yaml';

const selectorText = z.string().superRefine((text, ctx) => {
  try {
    parseSelector(text);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** A wave picks hosts by one criterion; a wave with none takes every host not yet placed. */
export const WaveSpec = z
  .strictObject({
    name: z.string().min(1).optional(),
    /** Hosts with a HostEndpoint whose labels match. */
    selector: selectorText.optional(),
    hosts: z.array(z.string().min(1)).min(1).optional(),
    count: z.number().int().positive().optional(),
    percent: z.number().positive().max(100).optional(),
    /** Overrides the rollout's `maxFailures` for this wave. */
    maxFailures: z.number().int().nonnegative().optional(),
  })
  .refine((w) => [w.selector, w.hosts, w.count, w.percent].filter((c) => c !== undefined).length <= 1, {
    message: 'a wave picks hosts by at most one of selector, hosts, count, percent',
  });
export type WaveSpec = z.output<typeof WaveSpec>;

export const DEFAULT_WAVES: WaveSpec[] = [{ name: 'canary', count: 1 }, { name: 'wave-1', percent: 50 }, { name: 'wave-2' }];

const cidrText = z.string().refine((t) => tryParseCidr(t) !== null, { message: 'must be an IPv4/IPv6 address or CIDR' });
const protocolText = z.union([
  z.number().int().min(0).max(255),
  z.string().superRefine((t, ctx) => {
    try {
      parsePacketProtocol(t);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  }),
]);
const portText = z.union([
  z.number().int().min(0).max(65535),
  z.string().regex(/^[0-9]{1,5}:[0-9]{1,5}$/, { message: 'a port is a number or a range "lo:hi"' }).refine((t) => {
    const [lo, hi] = t.split(':').map(Number);
    return lo! <= hi! && hi! <= 65535;
  }, { message: 'a port range "lo:hi" needs lo ≤ hi ≤ 65535' }),
]);
const PORT_PROTOCOLS = new Set([6, 17, 132]);
const protoNumber = (p: string | number | undefined) => (p === undefined ? undefined : typeof p === 'number' ? p : parsePacketProtocol(p));

/**
 * A statement about traffic the plan proves for every host it selects, over every packet of the
 * box (all addresses and ports in it): e.g. "monitoring scrapes every worker on tcp/9100".
 */
export const IntentSpec = z
  .strictObject({
    name: z.string().min(1),
    /** HostEndpoint label selector; the intent holds on the interfaces those endpoints govern. */
    hosts: selectorText.default('all()'),
    direction: z.enum(['ingress', 'egress']),
    interface: z.string().min(1).optional(),
    protocol: protocolText.optional(),
    from: z.array(cidrText).min(1).optional(),
    to: z.array(cidrText).min(1).optional(),
    srcPorts: z.array(portText).min(1).optional(),
    dstPorts: z.array(portText).min(1).optional(),
    icmpType: z.number().int().min(0).max(255).optional(),
    icmpCode: z.number().int().min(0).max(255).optional(),
    expect: z.enum(['allow', 'deny']),
  })
  .superRefine((intent, ctx) => {
    const proto = protoNumber(intent.protocol);
    for (const field of ['srcPorts', 'dstPorts'] as const) {
      if (intent[field] !== undefined && (proto === undefined || !PORT_PROTOCOLS.has(proto))) ctx.addIssue({ code: 'custom', path: [field], message: 'ports need protocol tcp, udp or sctp' });
    }
    for (const field of ['icmpType', 'icmpCode'] as const) {
      if (intent[field] !== undefined && proto !== 1 && proto !== 58) ctx.addIssue({ code: 'custom', path: [field], message: 'ICMP fields need protocol icmp or icmpv6' });
    }
    if (intent.icmpCode !== undefined && intent.icmpType === undefined) ctx.addIssue({ code: 'custom', path: ['icmpCode'], message: 'icmpCode needs icmpType' });
    // Inner refinements do not stop this one: networks that failed to parse are skipped here.
    const familiesOf = (nets: readonly string[] | undefined) => new Set((nets ?? []).flatMap((n) => tryParseCidr(n)?.family ?? []));
    const from = familiesOf(intent.from);
    const to = familiesOf(intent.to);
    if (from.size > 0 && to.size > 0 && ![...from].some((f) => to.has(f))) ctx.addIssue({ code: 'custom', path: ['to'], message: 'from and to share no address family: the intent covers no packet' });
  });
export type IntentSpec = z.output<typeof IntentSpec>;

export const RolloutConfig = z.strictObject({
  waves: z.array(WaveSpec).min(1).default(DEFAULT_WAVES),
  /** How long a wave keeps passing its checks before the next wave starts. */
  soak: Duration.default(0),
  /** Pause between check rounds while soaking. */
  soakInterval: Duration.default(1000),
  maxFailures: z.number().int().nonnegative().default(0),
  /** `halt`: stop, keep the waves already done. `rollback`: also undo every host confirmed for this revision. */
  onFailure: z.enum(['halt', 'rollback']).default('halt'),
  /** A commit arriving mid-rollout: `supersede` the current rollout once in-flight hosts settle, or `queue` it. */
  onNewCommit: z.enum(['supersede', 'queue']).default('supersede'),
  concurrency: z.number().int().positive().default(4),
  timeouts: z
    .strictObject({
      apply: Duration.default(30_000),
      verify: Duration.default(10_000),
    })
    .default({ apply: 30_000, verify: 10_000 }),
  /** Attempts per check within one verify round, so one lost packet does not roll a host back. */
  checkAttempts: z.number().int().positive().default(3),
  /** Checks declared by the repository; the failsafe SSH check is always added. */
  checks: z
    .array(CheckSpec)
    .default([])
    .superRefine((checks, ctx) => {
      // Results, logs and `expect` are reported by name: two checks of one name would be confused.
      const seen = new Map<string, number>();
      checks.forEach((c, i) => {
        // A declared check names an address (the always-on feed check may carry the store's host name).
        if (c.target !== undefined && parseIp(c.target) === null) ctx.addIssue({ code: 'custom', path: [i, 'target'], message: `target must be an IPv4 or IPv6 address (got ${JSON.stringify(c.target)})` });
        const first = seen.get(c.name);
        if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `check name '${c.name}' is already used by checks[${first}]; names must be unique` });
        else seen.set(c.name, i);
      });
    }),
  /** Proven by `palisade plan` on every host they select (exit 2 when one does not hold). */
  intents: z
    .array(IntentSpec)
    .default([])
    .superRefine((list, ctx) => {
      const seen = new Set<string>();
      list.forEach((intent, i) => {
        if (seen.has(intent.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `intent name ${intent.name} is used twice` });
        seen.add(intent.name);
      });
    }),
});
export type RolloutConfig = z.output<typeof RolloutConfig>;

export const defaultRolloutConfig = (): RolloutConfig => RolloutConfig.parse({});

/** Parses palisade.yaml; errors name the file, line and column like the model's. */
export function parseRolloutConfig(text: string, file = ROLLOUT_CONFIG_FILE): { config: RolloutConfig | null; errors: ModelError[] } {
  // The same reader as the policy files: nesting limit, tags, syntax errors with their lines.
  const { docs, lineCounter, problems } = readYamlDocuments(text);
  const at = (offset: number | undefined) => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { line: pos.line, col: pos.col };
  };
  if (problems.length > 0) return { config: null, errors: problems.map(({ code, line, col, message }) => ({ code, file, line, col, message })) };
  if (docs.length > 1) return { config: null, errors: [{ code: 'YAML_SYNTAX', file, ...at(docs[1]!.contents?.range?.[0]), message: 'invalid YAML: palisade.yaml must hold one document' }] };
  const doc = docs[0] ?? parseDocument('');
  let raw: unknown;
  try {
    // A cap on alias expansion keeps a hostile file from blowing up memory.
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { config: null, errors: [{ code: 'ALIAS_LIMIT', file, line: 1, col: 1, message: (e as Error).message }] };
  }
  const parsed = RolloutConfig.safeParse(raw ?? {});
  if (parsed.success) return { config: parsed.data, errors: [] };
  return {
    config: null,
    errors: parsed.error.issues.map((issue) => {
      type Ranged = { range?: [number, number, number]; items?: { key?: { value?: unknown; range?: [number, number, number] } }[] };
      const node = (issue.path.length ? doc.getIn(issue.path as (string | number)[], true) : doc.contents) as Ranged | undefined;
      const parent = doc.getIn(issue.path.slice(0, -1) as (string | number)[], true) as Ranged | undefined;
      // An unknown key is reported on the key itself, so a typo points at its own line.
      const unknownKey = issue.code === 'unrecognized_keys' ? node?.items?.find((i) => issue.keys.includes(String(i.key?.value)))?.key : undefined;
      const field = [...issue.path, ...(issue.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [])].join('.') || '(root)';
      if (unknownKey) return { code: 'ROLLOUT_CONFIG_INVALID' as const, file, ...at(unknownKey.range?.[0]), kind: 'RolloutConfig', field, message: issue.message };
      return { code: 'ROLLOUT_CONFIG_INVALID' as const, file, ...at((node ?? parent)?.range?.[0]), kind: 'RolloutConfig', field, message: issue.message };
    }),
  };
}

export interface FleetHost {
  name: string;
  /** Labels of the host's HostEndpoints (any of them may match a wave selector). */
  labelSets: Record<string, string>[];
}

/** Hosts with the labels of their HostEndpoints, for wave selectors. */
export function fleetOf(desired: DesiredState, hosts: readonly string[]): FleetHost[] {
  const byNode = new Map<string, Record<string, string>[]>();
  for (const h of desired.hostEndpoints) {
    const sets = byNode.get(h.spec.node);
    if (sets) sets.push(h.metadata.labels);
    else byNode.set(h.spec.node, [h.metadata.labels]);
  }
  return hosts.map((name) => ({ name, labelSets: byNode.get(name) ?? [] }));
}

/**
 * Places every host in exactly one wave, in wave order: explicit hosts and selectors claim
 * theirs, counts and percents take from the hosts not yet placed (sorted by name, so the same
 * fleet always gets the same canary), and the first wave without a criterion takes the rest.
 * Hosts left over after the last wave form a final `rest` wave. Empty waves are dropped.
 */
export function resolveWaves(config: Pick<RolloutConfig, 'waves'>, fleet: readonly FleetHost[]): Wave[] {
  let remaining = [...fleet].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const total = remaining.length;
  const take = (pick: (h: FleetHost) => boolean) => {
    const taken: string[] = [];
    const left: FleetHost[] = [];
    for (const h of remaining) {
      if (pick(h)) taken.push(h.name);
      else left.push(h);
    }
    remaining = left;
    return taken;
  };
  const waves: Wave[] = config.waves.map((w, i) => {
    const name = w.name ?? `wave-${i}`;
    if (w.hosts) return { name, hosts: take((h) => w.hosts!.includes(h.name)) };
    if (w.selector !== undefined) {
      const sel = parseSelector(w.selector);
      return { name, hosts: take((h) => h.labelSets.some((l) => sel.matches(l))) };
    }
    if (w.count !== undefined || w.percent !== undefined) {
      const n = w.count ?? Math.max(1, Math.ceil(((w.percent ?? 0) / 100) * total));
      const chosen = new Set(remaining.slice(0, n));
      return { name, hosts: take((h) => chosen.has(h)) };
    }
    return { name, hosts: take(() => true) };
  });
  if (remaining.length > 0) waves.push({ name: 'rest', hosts: take(() => true) });
  return waves.filter((w) => w.hosts.length > 0);
}

/** `maxFailures` for each resolved wave (a wave's own setting wins over the rollout's). */
export function waveFailureBudgets(config: RolloutConfig, waves: readonly Wave[]): number[] {
  return waves.map((w) => config.waves.find((spec, i) => (spec.name ?? `wave-${i}`) === w.name)?.maxFailures ?? config.maxFailures);
}
