import { UsageError, type CommandIO } from './io.js';

type Command = (argv: string[], io: CommandIO) => Promise<number>;

/** Commands load lazily so `palisade validate` does not pay for the reconciler's imports. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  demo: { summary: 'build a lab, commit a good and a bad change, watch the rollback', load: async () => (await import('../demo/demo.js')).runDemo },
  reconcile: { summary: 'watch a policy repository and roll every commit out to the hosts', load: async () => (await import('./reconcile.js')).runReconcile },
  rollout: { summary: 'rollout status [--watch] | pause | resume | abort | retry', load: async () => (await import('./rollout.js')).runRollout },
  agent: { summary: 'run on a host: apply its desired ruleset from etcd, commit-confirmed', load: async () => (await import('./agent.js')).runAgent },
  lab: { summary: 'lab up|down: test hosts as network namespaces', load: async () => (await import('./lab.js')).runLab },
  events: { summary: 'print the event log (--follow, --since SEQ, --type T, --json)', load: async () => (await import('./events.js')).runEvents },
  history: { summary: 'one line per revision: commit, author, message, outcome, duration', load: async () => (await import('./history.js')).runHistory },
  validate: { summary: 'validate a policy directory (file:line:col for every problem)', load: async () => (await import('./validate.js')).runValidate },
  convert: { summary: 'convert v1: legacy Calico v1 JSON to v3 YAML', load: async () => (await import('./convert.js')).runConvert },
  render: { summary: 'print the nftables ruleset a host would get', load: async () => (await import('./render.js')).runRender },
  plan: { summary: 'what a change does before merge: connections opened/closed per host, dangers, lints', load: async () => (await import('./plan.js')).runPlan },
  explain: { summary: 'the verdict for one packet, and the path that produced it', load: async () => (await import('./explain.js')).runExplain },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return ['usage: palisade <command> [options]   (palisade <command> --help for its options)', '', ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)].join('\n');
}

export async function main(argv: string[], io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr.write(`palisade: unknown command '${name}'\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await (await command.load())(rest, io);
  } catch (e) {
    const err = e as Error & { code?: string; exitCode?: number };
    if (e instanceof UsageError) {
      io.stderr.write(`palisade ${name}: ${err.message}\n`);
      return err.exitCode ?? 2;
    }
    if (typeof err.code === 'string' && err.code.length > 0 && !err.code.startsWith('ERR_')) {
      io.stderr.write(`palisade ${name}: ${err.message} [${err.code}]\n`);
      return 1;
    }
    throw e;
  }
}

const invokedDirectly = process.argv[1] && /(?:palisade(?:\.js)?|cli[/\\]main\.[jt]s)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`palisade: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
