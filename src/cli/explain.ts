import { compileHost } from '../compiler/index.js';
import { formatPath, formatVerdict, simulate, type Packet } from '../simulator/index.js';
import { hostFacts, loadDirectoryState, type StateLoader } from './host-source.js';
import { UsageError, type CommandIO } from './io.js';

export const EXPLAIN_USAGE = `usage: palisade explain --host NODE --iface IF --direction ingress|egress --proto P --src ADDR --dst ADDR
                        [--sport N] [--dport N] [--icmp-type N] [--icmp-code N] [--forward-to IF]
                        [--repo DIR] [--ref REV] [--facts FILE] [--json]

Compiles NODE's program from the policy repository and walks one new flow's first packet through
it without touching a kernel. Prints the path (failsafe, tier, policy, rule, profile, default drop)
and the verdict. Exit status: 0 allow, 1 deny, 3 not policed (no host endpoint), 2 usage error.

  --repo DIR      policy directory (default: .)
  --ref REV       a git revision of the repository (needs the git policy source)
  --facts FILE    the host's interfaces as JSON {node, interfaces:[{name, addresses}]};
                  default: the HEPs' interfaceName/expectedIPs on NODE, plus lo
  --forward-to IF the packet is forwarded out of IF (applyOnForward policy)
  --json          print {verdict, path} as JSON
`;

const VALUE_FLAGS = ['--host', '--iface', '--direction', '--proto', '--src', '--dst', '--sport', '--dport', '--icmp-type', '--icmp-code', '--forward-to', '--repo', '--ref', '--facts'] as const;

/** `--flag value` / `--flag=value` pairs; boolean flags listed in `bools`. */
export function parseFlags(argv: readonly string[], valueFlags: readonly string[], bools: readonly string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i]!;
    const [flag, inline] = raw.includes('=') ? [raw.slice(0, raw.indexOf('=')), raw.slice(raw.indexOf('=') + 1)] : [raw, undefined];
    if (bools.includes(flag)) out.set(flag, true);
    else if (valueFlags.includes(flag)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      out.set(flag, value);
    } else throw new UsageError(`unknown argument ${raw}`);
  }
  return out;
}

function int(flags: Map<string, string | true>, name: string, max: number): number | undefined {
  const v = flags.get(name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^[0-9]+$/.test(v) || Number(v) > max) throw new UsageError(`${name} must be a number 0–${max}`);
  return Number(v);
}

export async function runExplain(argv: string[], io: CommandIO, loadState: StateLoader = loadDirectoryState): Promise<number> {
  try {
    const flags = parseFlags(argv, VALUE_FLAGS, ['--json', '--help', '-h']);
    if (flags.has('--help') || flags.has('-h')) {
      io.stdout.write(EXPLAIN_USAGE);
      return 0;
    }
    const need = (name: string): string => {
      const v = flags.get(name);
      if (typeof v !== 'string') throw new UsageError(`${name} is required`);
      return v;
    };
    const direction = need('--direction');
    if (direction !== 'ingress' && direction !== 'egress') throw new UsageError('--direction must be ingress or egress');
    const packet: Packet = { iface: need('--iface'), direction, proto: need('--proto'), src: need('--src'), dst: need('--dst') };
    const optional = { sport: int(flags, '--sport', 65535), dport: int(flags, '--dport', 65535), icmpType: int(flags, '--icmp-type', 255), icmpCode: int(flags, '--icmp-code', 255) };
    for (const [k, v] of Object.entries(optional)) if (v !== undefined) (packet as unknown as Record<string, number>)[k] = v;
    const forwardTo = flags.get('--forward-to');
    if (typeof forwardTo === 'string') packet.forwardTo = forwardTo;

    const node = need('--host');
    const ref = flags.get('--ref');
    const state = await loadState(String(flags.get('--repo') ?? '.'), typeof ref === 'string' ? ref : undefined);
    const local = { iface: packet.iface, address: direction === 'ingress' ? packet.dst : packet.src };
    const facts = await hostFacts(state, node, flags.get('--facts') as string | undefined, local);
    const program = compileHost(state, facts);
    const sim = simulate(program, packet);
    if (flags.has('--json')) io.stdout.write(`${JSON.stringify({ verdict: sim.verdict, reason: formatVerdict(sim), path: sim.path, warnings: program.warnings }, null, 2)}\n`);
    else io.stdout.write(`${formatPath(sim)}\n${program.warnings.map((w) => `warning: ${w}\n`).join('')}`);
    return sim.verdict === 'allow' ? 0 : sim.verdict === 'deny' ? 1 : 3;
  } catch (e) {
    io.stderr.write(`palisade explain: ${(e as Error).message}\n`);
    if (e instanceof UsageError) io.stderr.write(EXPLAIN_USAGE);
    return 2;
  }
}
