import { formatModelError, type ModelError } from '../model/errors.js';
import { readNotifyFile } from '../notify/config.js';
import { readRepositoryDirectory } from '../repository/repository.js';
import { parseCommand } from './args.js';
import type { CommandIO } from './io.js';

export const VALIDATE_USAGE = `usage: palisade validate [DIR] [--notify FILE] [-o text|json|github] [--skip-invalid]

Validates every Calico resource under DIR (default: the current directory, unless only --notify
is given) and prints every problem as file:line:col: Kind/name: field: reason. Exit status 0
when valid, 1 when not, 2 on a usage error or an unreadable DIR.

  --notify FILE        also check a notify file (the one 'palisade reconcile --notify' reads);
                       environment variables it names that are unset are warnings here (errors
                       for reconcile, which needs their values)
  -o, --output text    one line per problem (default; --format is the old spelling)
  -o, --output json    one JSON document: {valid, resources, errors[], warnings[]}
  -o, --output github  GitHub Actions annotations (::error / ::warning)
  --skip-invalid       Felix's "treating as missing" mode: drop invalid resources with a warning.
                       FAIL-OPEN: a dropped HostEndpoint leaves its interface unprotected.
  -h, --help           this text
`;

const SPEC = {
  name: 'validate',
  usage: VALIDATE_USAGE,
  options: { notify: { type: 'string' }, 'skip-invalid': { type: 'boolean' } },
  positionals: { max: 1 },
  output: { formats: ['text', 'json', 'github'], legacy: ['format'] },
} as const;

// GitHub's workflow-command escaping: data escapes %, CR, LF; properties also : and ,.
const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

function githubLine(level: 'error' | 'warning', e: ModelError): string {
  const title = e.kind ? (e.name ? `${e.kind}/${e.name}` : e.kind) : 'palisade';
  const text = e.field ? `${e.field}: ${e.message}` : e.message;
  return `::${level} file=${escapeProperty(e.file)},line=${e.line},col=${e.col},title=${escapeProperty(title)}::${escapeData(text)}\n`;
}

/** `palisade validate [DIR] [--notify FILE] [-o text|json|github] [--skip-invalid]`; resolves to the exit code. */
export async function runValidate(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseCommand(argv, SPEC, io);
  if (!parsed) return 0;
  const notifyFile = parsed.values.notify ?? null;
  const args = {
    // Only --notify given: check just that file.
    dir: parsed.positionals[0] ?? (notifyFile === null ? '.' : null),
    notify: notifyFile,
    skipInvalid: parsed.values['skip-invalid'],
    format: parsed.output,
  };
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
