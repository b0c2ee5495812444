import { parseArgs } from 'node:util';
import { parseDuration } from '../rollout/duration.js';
import { UsageError, type CommandIO } from './io.js';

/**
 * The one argument parser of every command and subcommand. It is node's `util.parseArgs` in
 * strict mode (no dependency, part of the runtime we already require), with what it lacks added
 * here once: typed values (durations in the syntax palisade.yaml takes, whole numbers, choices),
 * the shared `-h/--help` and `-o/--output`, the old spellings of `--output` as aliases, and
 * one-line error messages that name the option and point at `--help`.
 */
export type Option =
  | { type: 'boolean'; short?: string }
  | { type: 'string'; short?: string; default?: string }
  | { type: 'strings'; short?: string }
  | { type: 'duration'; short?: string; default?: string; min?: number; /** etcd leases: a whole number of seconds */ wholeSeconds?: boolean }
  | { type: 'integer'; short?: string; default?: number; min?: number; max?: number }
  | { type: 'choice'; short?: string; choices: readonly string[]; default?: string };

type Value<O extends Option> = O extends { type: 'boolean' }
  ? boolean
  : O extends { type: 'strings' }
    ? string[]
    : O extends { type: 'choice'; choices: readonly (infer C)[] }
      ? O extends { default: string }
        ? C
        : C | undefined
    : O extends { type: 'duration' } | { type: 'integer' }
      ? O extends { default: unknown }
        ? number
        : number | undefined
      : O extends { default: string }
        ? string
        : string | undefined;

export interface CommandSpec<Opts extends Record<string, Option>> {
  /** As typed: `reconcile`, `rollout status`. */
  name: string;
  usage: string;
  options: Opts;
  /** How many positional arguments are allowed (default: none). */
  positionals?: { min?: number; max?: number };
  /**
   * `-o, --output` with these formats (the first is the default). `legacy` keeps the old spellings
   * working: `--format F` and `--json` (= `--output json`).
   */
  output?: { formats: readonly string[]; legacy?: readonly ('format' | 'json')[] };
  /** Exit status of a usage error (2 unless the command gives 2 another meaning). */
  usageExit?: number;
}

export interface Parsed<Opts extends Record<string, Option>> {
  values: { [K in keyof Opts]: Value<Opts[K]> };
  positionals: string[];
  /** The `--output` format ('text' when the command has no other). */
  output: string;
}

const HELP = new Set(['--help', '-h']);

/** True when `--help`/`-h` appears among the options (before a `--`). */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (HELP.has(a)) return true;
  }
  return false;
}

/**
 * Parses `argv` for the command, or prints its usage and returns null when help was asked for
 * (then the command must do nothing else). Throws a UsageError naming the bad option.
 */
export function parseCommand<const Opts extends Record<string, Option>>(argv: readonly string[], spec: CommandSpec<Opts>, io: CommandIO): Parsed<Opts> | null {
  if (wantsHelp(argv)) {
    io.stdout.write(spec.usage.endsWith('\n') ? spec.usage : `${spec.usage}\n`);
    return null;
  }
  const fail = (message: string): never => {
    throw new UsageError(message, spec.usageExit, spec.name);
  };
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    config[name] = { type: o.type === 'boolean' ? 'boolean' : 'string', ...(o.short ? { short: o.short } : {}), ...(o.type === 'strings' ? { multiple: true } : {}) };
  }
  if (spec.output) {
    config.output = { type: 'string', short: 'o' };
    if (spec.output.legacy?.includes('format')) config.format = { type: 'string' };
    if (spec.output.legacy?.includes('json')) config.json = { type: 'boolean' };
  }
  let raw: { values: Record<string, string | boolean | string[] | undefined>; positionals: string[] };
  try {
    raw = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true }) as typeof raw;
  } catch (e) {
    return fail(describeParseError(e as Error & { code?: string }));
  }
  const { min = 0, max = 0 } = spec.positionals ?? {};
  if (raw.positionals.length > max) fail(max === 0 ? `unexpected argument '${raw.positionals[0]}'` : `unexpected argument '${raw.positionals[max]}' (at most ${max})`);
  if (raw.positionals.length < min) fail(`missing argument${min > 1 ? 's' : ''}`);

  const values: Record<string, unknown> = {};
  for (const [name, o] of Object.entries(spec.options)) {
    const given = raw.values[name];
    values[name] = convert(`--${name}`, o, given, fail);
  }
  let output = spec.output?.formats[0] ?? 'text';
  if (spec.output) {
    const formats = spec.output.formats;
    const [spelling, asked] = (
      raw.values.output !== undefined ? ['--output', raw.values.output] : raw.values.format !== undefined ? ['--format', raw.values.format] : raw.values.json ? ['--json', 'json'] : ['', undefined]
    ) as [string, string | undefined];
    if (asked !== undefined) {
      if (!formats.includes(asked)) fail(`${spelling} must be ${list(formats)}, got '${asked}'`);
      output = asked;
    }
  }
  return { values: values as Parsed<Opts>['values'], positionals: raw.positionals, output };
}

function convert(flag: string, o: Option, given: string | boolean | string[] | undefined, fail: (m: string) => never): unknown {
  switch (o.type) {
    case 'boolean':
      return given === true;
    case 'strings':
      return (given as string[] | undefined) ?? [];
    case 'string':
      return (given as string | undefined) ?? o.default;
    case 'choice': {
      const v = (given as string | undefined) ?? o.default;
      if (v !== undefined && !o.choices.includes(v)) fail(`${flag} must be ${list(o.choices)}, got '${v}'`);
      return v;
    }
    case 'duration': {
      const text = (given as string | undefined) ?? o.default;
      if (text === undefined) return undefined;
      const ms = parseDuration(text);
      if (ms === null) fail(`${flag} takes a duration such as 500ms, 5s, 2m, 1h (a bare number is milliseconds), got '${text}'`);
      if (o.wholeSeconds && ms! % 1000 !== 0) fail(`${flag} must be whole seconds, got '${text}'`);
      if (o.min !== undefined && ms! < o.min) fail(`${flag} must be at least ${o.min % 1000 === 0 ? `${o.min / 1000}s` : `${o.min}ms`}, got '${text}'`);
      return ms;
    }
    case 'integer': {
      if (given === undefined) return o.default;
      const text = given as string;
      const n = /^-?[0-9]+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
        fail(`${flag} must be a whole number${o.min !== undefined ? ` ≥ ${o.min}` : ''}${o.max !== undefined ? ` ≤ ${o.max}` : ''}, got '${text}'`);
      }
      return n;
    }
  }
}

const list = (xs: readonly string[]) => (xs.length === 1 ? xs[0]! : `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}`);

/** parseArgs' messages are long and name the option in quotes; one short line each. */
function describeParseError(e: Error & { code?: string }): string {
  const quoted = /'([^']+)'/.exec(e.message)?.[1] ?? '';
  const option = quoted.replace(/ <value>$/, '');
  switch (e.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option '${option}'`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(e.message)) return `option '${option}' takes no value`;
      return `option '${option}' needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument '${option}'`;
    default:
      return e.message.split('\n')[0]!;
  }
}

/** `palisade NAME SUB …`: picks the subcommand, or prints the command's usage for --help / nothing. */
export function pickSubcommand<S extends string>(
  argv: readonly string[],
  command: { name: string; usage: string; subcommands: readonly S[] },
  io: CommandIO,
): { sub: S; rest: string[] } | number {
  const [first, ...rest] = argv;
  if (first === undefined || HELP.has(first)) {
    (first ? io.stdout : io.stderr).write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    return first ? 0 : 2;
  }
  if (!(command.subcommands as readonly string[]).includes(first)) {
    throw new UsageError(first.startsWith('-') ? `unknown option '${first}' (a subcommand comes first: ${list(command.subcommands)})` : `unknown subcommand '${first}' (${list(command.subcommands)})`, undefined, command.name);
  }
  return { sub: first as S, rest };
}
