import { compileHost } from '../compiler/index.js';
import { smallestChange } from '../headerspace/smallest-change.js';
import { formatPath, formatVerdict, simulate, type Packet } from '../simulator/index.js';
import { parseCommand } from './args.js';
import { hostFacts, loadDirectoryState, requireKnownHost, type StateLoader } from './host-source.js';
import { describeError, UsageError, type CommandIO } from './io.js';

export const EXPLAIN_USAGE = `usage: palisade explain --host NODE --iface IF --direction ingress|egress --proto P --src ADDR --dst ADDR
                        [--sport N] [--dport N] [--icmp-type N] [--icmp-code N] [--forward-to IF]
                        [--repo DIR] [--ref REV] [--facts FILE] [-o text|json]

Compiles NODE's program from the policy repository and walks one new flow's first packet through
it without touching a kernel. Prints the path (failsafe, tier, policy, rule, profile, default drop)
and the verdict; for a denied flow, the smallest change that would let it through (the Allow rule
needing the fewest fields of the packet to differ, checked by simulating the changed packet, or
one that matches already but comes after what decides). NODE must be named by a HostEndpoint.

  --repo DIR      policy directory (default: .)
  --ref REV       the policy as committed at a git revision (main~3, a tag, a short id)
                  instead of the files as they are; DIR must be inside a Git work tree
  --facts FILE    the host's interfaces as JSON {node, interfaces:[{name, addresses}]};
                  default: the HEPs' interfaceName/expectedIPs on NODE, plus lo
  --forward-to IF the packet is forwarded out of IF (applyOnForward policy)
  -o, --output F  text (default), or json: {verdict, reason, path, smallestChange?, warnings} (--json: old spelling)
  -h, --help      this text

Exit status: 0 allow, 1 deny, 3 not policed (no host endpoint), 2 no verdict: a usage error, or
the policy does not validate or does not name NODE.
`;

const port = { type: 'integer', min: 0, max: 65535 } as const;
const byte = { type: 'integer', min: 0, max: 255 } as const;
const SPEC = {
  name: 'explain',
  usage: EXPLAIN_USAGE,
  options: {
    host: { type: 'string' },
    iface: { type: 'string' },
    direction: { type: 'choice', choices: ['ingress', 'egress'] },
    proto: { type: 'string' },
    src: { type: 'string' },
    dst: { type: 'string' },
    sport: port,
    dport: port,
    'icmp-type': byte,
    'icmp-code': byte,
    'forward-to': { type: 'string' },
    repo: { type: 'string', default: '.' },
    ref: { type: 'string' },
    facts: { type: 'string' },
  },
  output: { formats: ['text', 'json'], legacy: ['json'] },
} as const;

export async function runExplain(argv: string[], io: CommandIO, loadState: StateLoader = loadDirectoryState): Promise<number> {
  try {
    const args = parseCommand(argv, SPEC, io);
    if (!args) return 0;
    const v = args.values;
    const need = (name: 'host' | 'iface' | 'direction' | 'proto' | 'src' | 'dst'): string => {
      const value = v[name];
      if (value === undefined) throw new UsageError(`--${name} is required`);
      return value;
    };
    const direction = need('direction') as Packet['direction'];
    const packet: Packet = { iface: need('iface'), direction, proto: need('proto'), src: need('src'), dst: need('dst') };
    const optional = { sport: v.sport, dport: v.dport, icmpType: v['icmp-type'], icmpCode: v['icmp-code'] };
    for (const [k, value] of Object.entries(optional)) if (value !== undefined) (packet as unknown as Record<string, number>)[k] = value;
    if (v['forward-to'] !== undefined) packet.forwardTo = v['forward-to'];

    const node = need('host');
    const state = await loadState(v.repo, v.ref);
    requireKnownHost(state, node);
    const local = { iface: packet.iface, address: direction === 'ingress' ? packet.dst : packet.src };
    const facts = await hostFacts(state, node, v.facts, local);
    const program = compileHost(state, facts);
    const sim = simulate(program, packet);
    const change = smallestChange(program, packet, sim);
    if (args.output === 'json') io.stdout.write(`${JSON.stringify({ verdict: sim.verdict, reason: formatVerdict(sim), path: sim.path, ...(change ? { smallestChange: change } : {}), warnings: program.warnings }, null, 2)}\n`);
    else io.stdout.write(`${formatPath(sim)}\n${change ? `smallest change: ${change.text}\n` : sim.verdict === 'deny' ? 'smallest change: no Allow rule applies to this endpoint: add one (or a profile)\n' : ''}${program.warnings.map((w) => `warning: ${w}\n`).join('')}`);
    return sim.verdict === 'allow' ? 0 : sim.verdict === 'deny' ? 1 : 3;
  } catch (e) {
    // Exit 1 is a verdict here (deny), so every failure to reach a verdict is 2.
    const known = describeError('explain', e);
    if (!known) throw e;
    io.stderr.write(`${known.text}\n`);
    return 2;
  }
}
