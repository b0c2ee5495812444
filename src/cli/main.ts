import { readFileSync } from 'node:fs';
import { describeError, EXIT, type CommandIO } from './io.js';

type Command = (argv: string[], io: CommandIO) => Promise<number>;

/** Commands load lazily so `palisade validate` does not pay for the reconciler's imports. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: { summary: 'build a lab, commit a good and a bad change, watch the rollback', load: async () => (await import('../demo/demo.js')).runDemo },
  reconcile: { summary: 'watch a policy repository and roll every commit out to the hosts', load: async () => (await import('./reconcile.js')).runReconcile },
  rollout: { summary: 'rollout status [--watch] | wait | pause | resume | abort | retry', load: async () => (await import('./rollout.js')).runRollout },
  agent: { summary: 'run on a host: apply its desired ruleset from etcd, commit-confirmed', load: async () => (await import('./agent.js')).runAgent },
  lab: { summary: 'lab up|down: test hosts as network namespaces', load: async () => (await import('./lab.js')).runLab },
  events: { summary: 'print the event log (--follow, --since SEQ, --type T)', load: async () => (await import('./events.js')).runEvents },
  history: { summary: 'one line per revision: commit, author, message, outcome, duration', load: async () => (await import('./history.js')).runHistory },
  validate: { summary: 'validate a policy directory (file:line:col for every problem)', load: async () => (await import('./validate.js')).runValidate },
  convert: { summary: 'convert v1: legacy Calico v1 JSON to v3 YAML', load: async () => (await import('./convert.js')).runConvert },
  render: { summary: 'print the nftables ruleset a host would get', load: async () => (await import('./render.js')).runRender },
  plan: { summary: 'what a change does before merge: connections opened/closed per host, dangers, lints', load: async () => (await import('./plan.js')).runPlan },
  explain: { summary: 'the verdict for one packet, and the path that produced it', load: async () => (await import('./explain.js')).runExplain },
};

export const COMMAND_NAMES = Object.keys(COMMANDS);

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'usage: palisade <command> [options]   (palisade <command> --help for its options)',
    '       palisade --version',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command: -h/--help prints its usage; a usage error exits 2 (plan: 3).',
  ].join('\n');
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL(import.meta.url.includes('/dist/') ? '../../../package.json' : '../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version}`;
}

export async function main(argv: string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${version()}\n`);
    return EXIT.ok;
  }
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? io.stdout : io.stderr).write(`${usage()}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`palisade: unknown ${name.startsWith('-') ? 'option' : 'command'} '${name}' (see 'palisade --help')\n`);
    return EXIT.usage;
  }
  try {
    return await (await command.load())(rest, io);
  } catch (e) {
    const known = describeError(name, e);
    if (!known) throw e;
    io.stderr.write(`${known.text}\n`);
    return known.exitCode;
  }
}

/**
 * Writing to a closed pipe (`palisade history | head -1`) is the reader saying it has enough:
 * end quietly with status 0 rather than with an EPIPE error.
 */
function quietOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(EXIT.ok);
      throw e;
    });
  }
}

const invokedDirectly = process.argv[1] && /(?:palisade(?:\.js)?|cli[/\\]main\.[jt]s)$/.test(process.argv[1]);
if (invokedDirectly) {
  quietOnClosedPipe();
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      // A bug, not a user's mistake: the message always, the stack only when asked for.
      const err = e instanceof Error ? e : new Error(String(e));
      process.stderr.write(`palisade: unexpected error: ${process.env.PALISADE_DEBUG ? (err.stack ?? err.message) : err.message}${process.env.PALISADE_DEBUG ? '' : ' (PALISADE_DEBUG=1 shows where)'}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
