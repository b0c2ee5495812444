import type { z } from 'zod';
import { decodePolicyFile, lineColOfByte, MAX_FILE_BYTES } from './decode.js';
import type { ModelError } from './errors.js';
import { byPosition, issueErrors } from './load.js';
import { parseYamlDocument } from './yaml-source.js';

export type Locate = (path: readonly PropertyKey[], pointAtKey?: boolean) => { line: number; col: number };

export interface ConfigFileResult<T> {
  value: T | null;
  errors: ModelError[];
  /** Where a field of the file is, for checks the caller makes after the schema (environment variables). */
  locate: Locate;
}

/**
 * A YAML configuration file (one document, not resources) checked against a zod schema, with
 * the policies' decoding rules and error positions: every problem as file:line:col and field.
 */
export function parseConfigFile<S extends z.ZodType>(content: string | Uint8Array, file: string, schema: S, kind: string): ConfigFileResult<z.output<S>> {
  const nowhere: Locate = () => ({ line: 1, col: 1 });
  const decoded = decodePolicyFile(content, MAX_FILE_BYTES);
  if (!decoded.ok) return { value: null, errors: [{ code: decoded.code, file, ...lineColOfByte(content, decoded.offset), message: decoded.message }], locate: nowhere };
  const { candidate, problems } = parseYamlDocument(decoded.text);
  if (!candidate) return { value: null, errors: problems.map((p) => ({ code: p.code, file, line: p.line, col: p.col, message: p.message })), locate: nowhere };
  const parsed = schema.safeParse(candidate.value);
  if (parsed.success) return { value: parsed.data, errors: [], locate: candidate.locate };
  return { value: null, errors: byPosition(parsed.error.issues.flatMap((issue) => issueErrors({ file, kind }, issue, candidate.locate))), locate: candidate.locate };
}
