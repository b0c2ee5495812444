import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import type { SourceLocation } from '../state/desired-state.js';
import { decodePolicyFile, lineColOfByte, MAX_FILE_BYTES } from './decode.js';
import { fieldPath, ModelValidationError, type ModelError } from './errors.js';
import { identity, missingTierErrors, repositoryErrors, repositoryWarnings, type Located } from './repository-rules.js';
import { resourceIssues, resourceWarnings } from './resource-rules.js';
import { API_VERSION, RESOURCE_KINDS, RESOURCE_SCHEMAS, type Resource, type ResourceKind } from './schemas.js';
import { UNKNOWN_KEYS_SEPARATOR } from './strict.js';
import { MAX_ALIAS_COUNT, parseYamlResources, type Candidate } from './yaml-source.js';

export interface LoadOptions {
  /**
   * Felix's behaviour for an invalid resource: drop it with a warning ("treating as missing") and
   * keep the rest. FAIL-OPEN for host endpoints: a dropped HostEndpoint leaves its interface
   * unpoliced (or policed by a `*` endpoint). Off by default: any invalid resource rejects all.
   */
  skipInvalid?: boolean;
  /** Larger files are rejected unread. Default 1 MiB. */
  maxFileBytes?: number;
  /** Cap on YAML alias expansions per resource (alias bombs). Default 100. */
  maxAliasCount?: number;
  /**
   * Per-file results kept between calls, keyed by the content buffer: a caller that passes the
   * same `Uint8Array` for an unchanged file (the reconciler, from one commit to the next) has it
   * parsed and validated once. Results are shared, so callers must not mutate them.
   */
  fileCache?: FileCache;
}

/** What one file contributes, before the repository-wide rules (tiers, unique names) run. */
export interface FileOutcome {
  path: string;
  errors: ModelError[];
  warnings: ModelError[];
  resources: Located[];
  invalid: ModelError[];
}
export type FileCache = WeakMap<object, FileOutcome>;

export interface LoadedFile {
  path: string;
  content: string | Uint8Array;
  /** The entry is a symbolic link to this target: it is refused, never read or skipped. */
  symlink?: string;
}

/**
 * Why a symlink is refused, the same for a directory (`palisade validate`) and a Git commit (the
 * reconciler, `plan`): a commit stores only the link's target text, so what it points to (a file
 * outside the policy directory, a loop, a directory) is not part of the reviewed change. Refusing
 * every one, rather than following some, gives every reader the same verdict.
 */
export function symlinkError(file: string, target: string): ModelError {
  return { code: 'SYMLINK', file, line: 1, col: 1, message: `symbolic link (to '${target}') refused: policy files and directories must be regular files in the repository; replace the link by the file itself` };
}

export interface LoadResult {
  resources: Located[];
  errors: ModelError[];
  warnings: ModelError[];
}

const KINDS = new Set<string>(RESOURCE_KINDS);

/**
 * Parses and validates policy files as one repository: every problem is reported, each with file,
 * line and column. Files are processed in the order given; pass them sorted for stable output.
 */
export function loadPolicyFiles(files: readonly LoadedFile[], opts: LoadOptions = {}): LoadResult {
  const errors: ModelError[] = [];
  const warnings: ModelError[] = [];
  const invalid: ModelError[] = [];
  let resources: Located[] = [];
  for (const file of files) {
    const keyed = typeof file.content === 'object' ? file.content : null;
    const cached = keyed ? opts.fileCache?.get(keyed) : undefined;
    const outcome = cached?.path === file.path ? cached : loadFile(file, opts);
    if (keyed) opts.fileCache?.set(keyed, outcome);
    errors.push(...outcome.errors);
    warnings.push(...outcome.warnings);
    resources.push(...outcome.resources);
    invalid.push(...outcome.invalid);
  }
  const tierErrors = missingTierErrors(resources);
  if (opts.skipInvalid) {
    const dropped = new Set(tierErrors.map((e) => `${e.kind}/${e.name}`));
    resources = resources.filter((l) => !dropped.has(`${l.resource.kind}/${l.resource.metadata.name}`));
    for (const e of [...invalid, ...tierErrors]) warnings.push({ ...e, code: 'SKIPPED_INVALID', message: `Validation failed; treating as missing: ${e.message}` });
  } else {
    errors.push(...invalid, ...tierErrors);
  }
  errors.push(...repositoryErrors(resources));
  // A name defined twice is an error above; later definitions are not passed on as resources.
  const seen = new Set<string>();
  resources = resources.filter((l) => !seen.has(identity(l.resource)) && seen.add(identity(l.resource)));
  warnings.push(...repositoryWarnings(resources));
  return { resources, errors: byPosition(errors), warnings: byPosition(warnings) };
}

function loadFile(file: LoadedFile, opts: LoadOptions): FileOutcome {
  const outcome: FileOutcome = { path: file.path, errors: [], warnings: [], resources: [], invalid: [] };
  if (file.symlink !== undefined) {
    outcome.errors.push(symlinkError(file.path, file.symlink));
    return outcome;
  }
  const decoded = decodePolicyFile(file.content, opts.maxFileBytes ?? MAX_FILE_BYTES);
  if (!decoded.ok) {
    outcome.errors.push({ code: decoded.code, file: file.path, ...lineColOfByte(file.content, decoded.offset), message: decoded.message });
    return outcome;
  }
  const parsed = parseYamlResources(decoded.text, opts.maxAliasCount ?? MAX_ALIAS_COUNT);
  for (const p of parsed.problems) outcome.errors.push({ code: p.code, file: file.path, line: p.line, col: p.col, message: p.message });
  for (const candidate of parsed.candidates) {
    const result = validateCandidate(file.path, candidate);
    if (result.ok) {
      outcome.resources.push(result.located);
      outcome.warnings.push(...result.warnings);
    } else outcome.invalid.push(...result.errors);
  }
  return outcome;
}

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

/** Reading order: by file, then line, then column; stable for problems at one spot. */
export const byPosition = (list: ModelError[]): ModelError[] =>
  [...list].sort((a, b) => cmp(a.file, b.file) || cmp(a.line, b.line) || cmp(a.col, b.col));

type CandidateResult = { ok: true; located: Located; warnings: ModelError[] } | { ok: false; errors: ModelError[] };

/** Validates one object against its kind's schema and Calico's per-resource rules. */
export function validateCandidate(file: string, c: Candidate): CandidateResult {
  const value = c.value as Record<string, unknown>;
  const meta = value.metadata as Record<string, unknown> | undefined;
  const kind = typeof value.kind === 'string' ? value.kind : undefined;
  const name = meta && typeof meta.name === 'string' ? meta.name : undefined;
  const base = { file, ...(kind ? { kind } : {}), ...(name ? { name } : {}) };
  const at = (path: readonly PropertyKey[], pointAtKey = false) => c.locate(path, pointAtKey);
  if (value.apiVersion !== API_VERSION) {
    const hint = value.apiVersion === 'crd.projectcalico.org/v1' ? ' (the CRD form bypasses Calico validation; export with calicoctl get -o yaml)' : value.apiVersion === undefined ? '' : ` (got '${String(value.apiVersion)}')`;
    return { ok: false, errors: [{ code: 'BAD_API_VERSION', ...base, ...at(['apiVersion']), field: 'apiVersion', message: `apiVersion must be ${API_VERSION}${hint}` }] };
  }
  if (!kind || !KINDS.has(kind)) {
    return { ok: false, errors: [{ code: 'UNKNOWN_KIND', ...base, ...at(['kind']), field: 'kind', message: `${kind ? `unsupported kind '${kind}'` : 'kind is missing'}: expected one of ${RESOURCE_KINDS.join(', ')}` }] };
  }
  const schema = RESOURCE_SCHEMAS[kind as ResourceKind] as z.ZodType<Resource>;
  const parsed = schema.safeParse(value);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.flatMap((issue) => issueErrors(base, issue, at)) };
  const issues = resourceIssues(parsed.data);
  if (issues.length > 0) {
    return { ok: false, errors: issues.map((i) => ({ code: 'INVALID_FIELD', ...base, ...at(i.path), field: fieldPath(i.path), message: i.message })) };
  }
  const source: SourceLocation = { file, line: c.line, col: c.col };
  const warnings = resourceWarnings(parsed.data).map((i): ModelError => ({ code: 'NOTNETS_CATCH_ALL', ...base, ...at(i.path), field: fieldPath(i.path), message: i.message }));
  return { ok: true, located: { resource: parsed.data, source }, warnings };
}

/** One zod issue as model errors at their own line (one per unknown key). Shared with configuration files. */
export function issueErrors(base: Pick<ModelError, 'file' | 'kind' | 'name'>, issue: z.core.$ZodIssue, at: (path: readonly PropertyKey[], pointAtKey?: boolean) => { line: number; col: number }): ModelError[] {
  if (issue.code === 'unrecognized_keys') {
    const reasons = issue.message.split(UNKNOWN_KEYS_SEPARATOR);
    return issue.keys.map((key, i) => {
      const path = [...issue.path, key];
      return { code: 'UNKNOWN_FIELD', ...base, ...at(path, true), field: fieldPath(path), message: reasons[i] ?? `unknown field "${key}"` };
    });
  }
  return [{ code: 'INVALID_FIELD', ...base, ...at(issue.path), field: fieldPath(issue.path), message: issue.message }];
}

const POLICY_FILE = /\.(ya?ml|json)$/i;

/**
 * Reads every `*.yaml`, `*.yml` and `*.json` under `dir` (hidden entries such as `.git` skipped),
 * refusing every symlink below `dir` (`symlinkError`) and files over the size limit, then loads them.
 * Paths in the result are `dir` joined with the path inside it.
 */
export async function loadPolicyDirectory(dir: string, opts: LoadOptions = {}): Promise<LoadResult> {
  const { files, errors } = await readPolicyDirectory(dir, opts);
  const result = loadPolicyFiles(files, opts);
  return { ...result, errors: byPosition([...errors, ...result.errors]) };
}

/** The file-reading half of `loadPolicyDirectory`: the files, and the files refused (with why). */
export async function readPolicyDirectory(dir: string, opts: Pick<LoadOptions, 'maxFileBytes'> = {}): Promise<{ files: LoadedFile[]; errors: ModelError[] }> {
  const root = await realpath(dir);
  const files: LoadedFile[] = [];
  const early: ModelError[] = [];
  const maxBytes = opts.maxFileBytes ?? MAX_FILE_BYTES;
  // Symlinks are never followed, so the walk cannot loop.
  const walk = async (abs: string, shown: string): Promise<void> => {
    const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const entryAbs = join(abs, entry.name);
      const entryShown = join(shown, entry.name);
      const fail = (code: ModelError['code'], message: string) => early.push({ code, file: entryShown, line: 1, col: 1, message });
      if (entry.isSymbolicLink()) {
        early.push(symlinkError(entryShown, await readlink(entryAbs)));
        continue;
      }
      const info = await stat(entryAbs);
      if (info.isDirectory()) {
        await walk(entryAbs, entryShown);
      } else if (info.isFile() && POLICY_FILE.test(entry.name)) {
        if (info.size > maxBytes) {
          fail('FILE_TOO_LARGE', `file is ${info.size} bytes, larger than the ${maxBytes}-byte limit`);
          continue;
        }
        try {
          files.push({ path: entryShown, content: await readFile(entryAbs) });
        } catch (e) {
          fail('READ_ERROR', `cannot read file: ${(e as Error).message}`);
        }
      }
    }
  };

  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
  await walk(root, dir);
  return { files, errors: early };
}

/** Parses and validates one YAML or JSON text as a whole repository. */
export function parsePolicyText(text: string, file = '<input>', opts: LoadOptions = {}): LoadResult {
  return loadPolicyFiles([{ path: file, content: text }], opts);
}

/** Like `parsePolicyText`, but returns just the resources and throws `ModelValidationError` on any error. */
export function parseResourcesOrThrow(text: string, file = '<input>', opts: LoadOptions = {}): Resource[] {
  const { resources, errors } = parsePolicyText(text, file, opts);
  if (errors.length > 0) throw new ModelValidationError(errors);
  return resources.map((l) => l.resource);
}
