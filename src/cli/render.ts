import { compileHost } from '../compiler/index.js';
import { renderNft, rulesetHash } from '../dataplane/index.js';
import { parseFlags } from './explain.js';
import { hostFacts, loadDirectoryState, type StateLoader } from './host-source.js';
import { UsageError, type CommandIO } from './io.js';

export const RENDER_USAGE = `usage: palisade render --host NODE [--repo DIR] [--ref REV] [--facts FILE] [--program] [--hash]

Prints the nft batch Palisade would apply on NODE (it replaces only table inet palisade).

  --repo DIR    policy directory (default: .)
  --ref REV     a git revision of the repository (needs the git policy source)
  --facts FILE  the host's interfaces as JSON {node, interfaces:[{name, addresses}]}
  --program     print the compiled host program (JSON) instead
  --hash        print only the ruleset's sha256
`;

export async function runRender(argv: string[], io: CommandIO, loadState: StateLoader = loadDirectoryState): Promise<number> {
  try {
    const flags = parseFlags(argv, ['--host', '--repo', '--ref', '--facts'], ['--program', '--hash', '--help', '-h']);
    if (flags.has('--help') || flags.has('-h')) {
      io.stdout.write(RENDER_USAGE);
      return 0;
    }
    const node = flags.get('--host');
    if (typeof node !== 'string') throw new UsageError('--host is required');
    const ref = flags.get('--ref');
    const state = await loadState(String(flags.get('--repo') ?? '.'), typeof ref === 'string' ? ref : undefined);
    const program = compileHost(state, await hostFacts(state, node, flags.get('--facts') as string | undefined));
    if (flags.has('--program')) {
      io.stdout.write(`${JSON.stringify(program, null, 2)}\n`);
      return 0;
    }
    const text = renderNft(program);
    io.stdout.write(flags.has('--hash') ? `${rulesetHash(text)}\n` : text);
    for (const w of program.warnings) io.stderr.write(`warning: ${w}\n`);
    return 0;
  } catch (e) {
    io.stderr.write(`palisade render: ${(e as Error).message}\n`);
    if (e instanceof UsageError) io.stderr.write(RENDER_USAGE);
    return 2;
  }
}
