import { readFile } from 'node:fs/promises';
import { formatModelError } from '../model/errors.js';
import { loadPolicyFiles } from '../model/load.js';
import { convertV1, toYamlDocuments, v1EntriesFromJson, type V1Entry } from '../model/v1-convert.js';
import type { CommandIO } from './io.js';

export const CONVERT_USAGE = `usage: palisade convert v1 FILE...

Converts Calico's legacy v1 etcd data (JSON: \`etcdctl get --prefix /calico/v1 -w json\` output,
an array of {"key", "value"}, or an object of key → value) to projectcalico.org/v3 YAML on
stdout, following Calico's upgrade mapping. The result is validated; problems go to stderr.
Exit status 0 when the output is valid, 1 when not, 2 on a usage or read error.
`;

/** `palisade convert v1 FILE...`; resolves to the exit code. */
export async function runConvert(argv: string[], io: CommandIO): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    io.stdout.write(CONVERT_USAGE);
    return 0;
  }
  const [format, ...files] = argv;
  if (format !== 'v1' || files.length === 0) {
    io.stderr.write(`palisade convert: ${format !== 'v1' ? `unsupported source format '${format ?? ''}'` : 'no FILE given'}\n${CONVERT_USAGE}`);
    return 2;
  }
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
  io.stdout.write(yamlText);
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
  for (const e of errors) io.stderr.write(`error: ${e}\n`);
  const check = loadPolicyFiles([{ path: '<converted>', content: yamlText }]);
  for (const e of check.errors) io.stderr.write(`${formatModelError(e)}\n`);
  return errors.length > 0 || check.errors.length > 0 ? 1 : 0;
}
