import { compileHost } from '../compiler/index.js';
import { renderNft, rulesetHash } from '../dataplane/index.js';
import { parseCommand } from './args.js';
import { hostFacts, loadDirectoryState, requireKnownHost, type StateLoader } from './host-source.js';
import { UsageError, type CommandIO } from './io.js';

export const RENDER_USAGE = `usage: palisade render --host NODE [--repo DIR] [--ref REV] [--facts FILE] [--program] [--hash] [-o text|json]

Prints the nft batch Palisade would apply on NODE (it replaces only table inet palisade).
NODE must be named by a HostEndpoint of the policy.

  --host NODE       the host (a HostEndpoint's spec.node)
  --repo DIR        policy directory (default: .)
  --ref REV         the policy as committed at a git revision (main~3, a tag, a short id)
                    instead of the files as they are; DIR must be inside a Git work tree
  --facts FILE      the host's interfaces as JSON {node, interfaces:[{name, addresses}]}
  --program         print the compiled host program (JSON) instead
  --hash            print only the ruleset's sha256
  -o, --output F    text (default): the nft batch; json: {node, hash, ruleset, warnings}
  -h, --help        this text

Exit status: 0 printed, 1 the policy does not validate or does not name NODE, 2 usage error.
`;

const SPEC = {
  name: 'render',
  usage: RENDER_USAGE,
  options: { host: { type: 'string' }, repo: { type: 'string', default: '.' }, ref: { type: 'string' }, facts: { type: 'string' }, program: { type: 'boolean' }, hash: { type: 'boolean' } },
  output: { formats: ['text', 'json'] },
} as const;

export async function runRender(argv: string[], io: CommandIO, loadState: StateLoader = loadDirectoryState): Promise<number> {
  const args = parseCommand(argv, SPEC, io);
  if (!args) return 0;
  const { host: node, repo, ref, facts, program: wantProgram, hash } = args.values;
  if (node === undefined) throw new UsageError('--host NODE is required');
  const state = await loadState(repo, ref);
  requireKnownHost(state, node);
  const program = compileHost(state, await hostFacts(state, node, facts));
  if (wantProgram) {
    io.stdout.write(`${JSON.stringify(program, null, 2)}\n`);
    return 0;
  }
  const text = renderNft(program);
  if (args.output === 'json') {
    io.stdout.write(`${JSON.stringify({ node, hash: rulesetHash(text), ruleset: text, warnings: program.warnings }, null, 2)}\n`);
    return 0;
  }
  io.stdout.write(hash ? `${rulesetHash(text)}\n` : text);
  for (const w of program.warnings) io.stderr.write(`warning: ${w}\n`);
  return 0;
}
