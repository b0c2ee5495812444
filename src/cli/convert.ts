import { readFile } from 'node:fs/promises';
import { formatModelError } from '../model/errors.js';
import { loadPolicyFiles } from '../model/load.js';
import { convertV1, toYamlDocuments, v1EntriesFromJson, type V1Entry } from '../model/v1-convert.js';
import { parseCommand, pickSubcommand } from './args.js';
import type { CommandIO } from './io.js';

export const CONVERT_USAGE = `usage: palisade convert v1 FILE... [-o yaml|json]

Converts Calico's legacy v1 etcd data (JSON: \`etcdctl get --prefix /calico/v1 -w json\` output,
an array of {"key", "value"}, or an object of key → value) to projectcalico.org/v3 resources on
stdout, following Calico's upgrade mapping: YAML documents (default), or with -o json one JSON
array. The result is validated; problems go to stderr.
Exit status 0 when the output is valid, 1 when not, 2 on a usage or read error.
`;

const SPEC = { name: 'convert v1', usage: CONVERT_USAGE, options: {}, positionals: { min: 1, max: Infinity }, output: { formats: ['yaml', 'json'] } } as const;

/** `palisade convert v1 FILE...`; resolves to the exit code. */
export async function runConvert(argv: string[], io: CommandIO): Promise<number> {
  const picked = pickSubcommand(argv, { name: 'convert', usage: CONVERT_USAGE, subcommands: ['v1'] }, io);
  if (typeof picked === 'number') return picked;
  const args = parseCommand(picked.rest, SPEC, io);
  if (!args) return 0;
  const files = args.positionals;
  const entries: V1Entry[] = [];
  for (const file of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(file, 'utf8')) as unknown;
    } catch (e) {
      io.stderr.write(`palisade convert: ${file}: ${(e as Error).message}\n`);
      return 2;
    }
    const parsed = v1EntriesFromJson(doc);
    if (typeof parsed === 'string') {
      io.stderr.write(`palisade convert: ${file}: ${parsed}\n`);
      return 2;
    }
    entries.push(...parsed);
  }
  const { resources, warnings, errors } = convertV1(entries);
  const yamlText = toYamlDocuments(resources);
  io.stdout.write(args.output === 'json' ? `${JSON.stringify(resources, null, 2)}\n` : yamlText);
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
  for (const e of errors) io.stderr.write(`error: ${e}\n`);
  const check = loadPolicyFiles([{ path: '<converted>', content: yamlText }]);
  for (const e of check.errors) io.stderr.write(`${formatModelError(e)}\n`);
  return errors.length > 0 || check.errors.length > 0 ? 1 : 0;
}
