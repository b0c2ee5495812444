import { formatModelError, type ModelError } from '../model/errors.js';
import { readNotifyFile } from '../notify/config.js';
import { readRepositoryDirectory } from '../repository/repository.js';
import { UsageError, type CommandIO } from './io.js';

export const VALIDATE_USAGE = `usage: palisade validate [DIR] [--notify FILE] [--format text|json|github] [--skip-invalid]

Validates every Calico resource under DIR (default: the current directory, unless only --notify
is given) and prints every problem as file:line:col: Kind/name: field: reason. Exit status 0
when valid, 1 when not, 2 on a usage error.

  --notify FILE     also check a notify file (the one 'palisade reconcile --notify' reads);
                    environment variables it names that are unset are warnings here (errors
                    for reconcile, which needs their values)
  --format text     one line per problem (default)
  --format json     one JSON document: {valid, resources, errors[], warnings[]}
  --format github   GitHub Actions annotations (::error / ::warning)
  --skip-invalid    Felix's "treating as missing" mode: drop invalid resources with a warning.
                    FAIL-OPEN: a dropped HostEndpoint leaves its interface unprotected.
`;

type Format = 'text' | 'json' | 'github';

interface ValidateArgs {
  dir: string | null;
  notify: string | null;
  format: Format;
  skipInvalid: boolean;
  help: boolean;
}

function parseArgs(argv: readonly string[]): ValidateArgs {
  const args: ValidateArgs = { dir: null, notify: null, format: 'text', skipInvalid: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--skip-invalid') args.skipInvalid = true;
    else if (a === '--format' || a.startsWith('--format=')) {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (value !== 'text' && value !== 'json' && value !== 'github') throw new UsageError(`--format must be text, json or github (got ${value ?? 'nothing'})`);
      args.format = value;
    } else if (a === '--notify' || a.startsWith('--notify=')) {
      const value = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!value) throw new UsageError('--notify needs a FILE');
      args.notify = value;
    } else if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`);
    else if (args.dir !== null) throw new UsageError(`only one DIR may be given (got ${args.dir} and ${a})`);
    else args.dir = a;
  }
  if (args.dir === null && args.notify === null) args.dir = '.';
  return args;
}

// GitHub's workflow-command escaping: data escapes %, CR, LF; properties also : and ,.
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

function githubLine(level: 'error' | 'warning', e: ModelError): string {
  const title = e.kind ? (e.name ? `${e.kind}/${e.name}` : e.kind) : 'palisade';
  const text = e.field ? `${e.field}: ${e.message}` : e.message;
  return `::${level} file=${escapeProperty(e.file)},line=${e.line},col=${e.col},title=${escapeProperty(title)}::${escapeData(text)}\n`;
}

/** `palisade validate [DIR] [--format text|json|github] [--skip-invalid]`; resolves to the exit code. */
export async function runValidate(argv: string[], io: CommandIO): Promise<number> {
  let args: ValidateArgs;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.stderr.write(`palisade validate: ${e.message}\n${VALIDATE_USAGE}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(VALIDATE_USAGE);
    return 0;
  }
  let result = { errors: [] as ModelError[], warnings: [] as ModelError[], resources: [] as unknown[] };
  if (args.dir !== null) {
    try {
      result = await readRepositoryDirectory(args.dir, { skipInvalid: args.skipInvalid });
    } catch (e) {
      io.stderr.write(`palisade validate: cannot read ${args.dir}: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const notify = args.notify === null ? null : await readNotifyFile(args.notify);
  const errors = [...result.errors, ...(notify?.errors ?? [])];
  const warnings = [...result.warnings, ...(notify?.unset ?? [])];
  const { resources } = result;
  const valid = errors.length === 0;
  switch (args.format) {
    case 'json':
      io.stdout.write(JSON.stringify({ valid, resources: resources.length, errors, warnings }, null, 2) + '\n');
      break;
    case 'github':
      for (const e of errors) io.stdout.write(githubLine('error', e));
      for (const w of warnings) io.stdout.write(githubLine('warning', w));
      break;
    case 'text':
      for (const e of errors) io.stdout.write(formatModelError(e) + '\n');
      for (const w of warnings) io.stdout.write(formatModelError({ ...w, message: `warning: ${w.message}` }) + '\n');
      io.stderr.write(`${resources.length} valid resource${resources.length === 1 ? '' : 's'}, ${errors.length} error${errors.length === 1 ? '' : 's'}, ${warnings.length} warning${warnings.length === 1 ? '' : 's'}\n`);
      break;
  }
  return valid ? 0 : 1;
}
