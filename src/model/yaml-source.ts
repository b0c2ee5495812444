import { Composer, Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, type Node, type YAMLError } from 'yaml';

/**
 * Reading YAML (and JSON, which is YAML) into resource candidates that remember their nodes, so
 * every later error can name the line and column of the field it is about.
 */

export const MAX_ALIAS_COUNT = 100;
/** Calico resources nest about ten levels; deeper input is refused before it can exhaust the stack. */
export const MAX_NESTING = 64;
/** Tags that keep a document JSON (what Calico's Kubernetes-style decoding sees); any other is refused. */
const JSON_TAGS = new Set(['!!str', '!!int', '!!float', '!!bool', '!!null', '!!map', '!!seq', 'tag:yaml.org,2002:str', 'tag:yaml.org,2002:int', 'tag:yaml.org,2002:float', 'tag:yaml.org,2002:bool', 'tag:yaml.org,2002:null', 'tag:yaml.org,2002:map', 'tag:yaml.org,2002:seq']);

export interface YamlProblem {
  code: 'YAML_SYNTAX' | 'DUPLICATE_KEY' | 'ALIAS_LIMIT' | 'NOT_A_RESOURCE' | 'NESTING_LIMIT' | 'UNKNOWN_TAG';
  line: number;
  col: number;
  message: string;
}

/** One object that claims to be a resource: its plain value plus the means to locate its fields. */
export interface Candidate {
  value: unknown;
  line: number;
  col: number;
  /** Where `path` (as zod reports it) lies in the file; the nearest existing ancestor if absent. */
  locate(path: readonly PropertyKey[], pointAtKey?: boolean): { line: number; col: number };
}

export interface ParsedYaml {
  candidates: Candidate[];
  problems: YamlProblem[];
}

const pos = (lc: LineCounter, offset: number) => {
  const p = lc.linePos(offset);
  return { line: p.line, col: p.col };
};

/**
 * The one YAML reader for policy files and palisade.yaml. Before composing, the concrete syntax
 * tree is walked without recursion: nesting deeper than `MAX_NESTING` is refused with its line
 * (the composer would otherwise fail with "Maximum call stack size exceeded"), and every explicit
 * tag other than the JSON core ones (`!foo`, `!!binary`, `!!set`, `!!timestamp`, …) is refused
 * with its line, instead of being read as a string, a Buffer, a Set or a Date.
 */
export function readYamlDocuments(text: string): { docs: Document[]; lineCounter: LineCounter; problems: YamlProblem[] } {
  const lineCounter = new LineCounter();
  // One parse: the syntax tree is checked, then composed from the same tokens.
  const tokens = Array.from(new Parser(lineCounter.addNewLine).parse(text));
  const problems = syntaxTreeProblems(tokens, lineCounter);
  if (problems.length > 0) return { docs: [], lineCounter, problems };
  const good: Document[] = [];
  for (const doc of new Composer({ uniqueKeys: true, merge: true }).compose(tokens)) {
    if (doc.errors.length === 0) good.push(doc);
    problems.push(...syntaxProblems(doc.errors, lineCounter));
  }
  return { docs: good, lineCounter, problems };
}

type CstToken = { type?: string; offset?: number; source?: string; [k: string]: unknown };
const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);
const CHILDREN = ['start', 'props', 'key', 'sep', 'value', 'items', 'end'] as const;

function syntaxTreeProblems(tokens: readonly unknown[], lc: LineCounter): YamlProblem[] {
  const problems: YamlProblem[] = [];
  const stack: { token: unknown; depth: number }[] = [];
  for (const doc of tokens) stack.push({ token: doc, depth: 0 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (Array.isArray(token)) {
      for (const t of token) stack.push({ token: t, depth });
      continue;
    }
    if (!token || typeof token !== 'object') continue;
    const t = token as CstToken;
    const d = COLLECTIONS.has(t.type ?? '') ? depth + 1 : depth;
    if (d > MAX_NESTING) {
      problems.push({ code: 'NESTING_LIMIT', ...pos(lc, t.offset ?? 0), message: `nesting deeper than ${MAX_NESTING} levels; refusing a possible resource exhaustion attack` });
      return problems;
    }
    if (t.type === 'tag' && typeof t.source === 'string' && !JSON_TAGS.has(t.source.replace(/^!<(.*)>$/, '$1'))) {
      problems.push({ code: 'UNKNOWN_TAG', ...pos(lc, t.offset ?? 0), message: `YAML tag ${t.source} is not supported: policy files are plain JSON-compatible YAML (only !!str, !!int, !!float, !!bool, !!null, !!map, !!seq)` });
    }
    for (const k of CHILDREN) if (t[k] !== undefined) stack.push({ token: t[k], depth: d });
  }
  return problems.sort((a, b) => a.line - b.line || a.col - b.col);
}

export function parseYamlResources(text: string, maxAliasCount = MAX_ALIAS_COUNT): ParsedYaml {
  const { docs, lineCounter, problems } = readYamlDocuments(text);
  const candidates: Candidate[] = [];
  for (const doc of docs) collect(doc, doc.contents, lineCounter, maxAliasCount, candidates, problems, false);
  return { candidates, problems };
}

function syntaxProblems(errors: readonly YAMLError[], lc: LineCounter): YamlProblem[] {
  return errors.map((err) => ({
    code: err.code === 'DUPLICATE_KEY' ? 'DUPLICATE_KEY' : 'YAML_SYNTAX',
    ...pos(lc, err.pos[0]),
    message: `invalid YAML: ${err.message.replace(/ at line \d+, column \d+.*$/s, '')}`,
  }));
}

/**
 * One YAML document that is a configuration file rather than resources (the notify file): its
 * value, located like a resource candidate, so schema errors name their line and column.
 */
export function parseYamlDocument(text: string, maxAliasCount = MAX_ALIAS_COUNT): { candidate: Candidate | null; problems: YamlProblem[] } {
  const { docs, lineCounter, problems } = readYamlDocuments(text);
  if (problems.length > 0) return { candidate: null, problems };
  if (docs.length > 1) return { candidate: null, problems: [{ code: 'YAML_SYNTAX', ...startOf(docs[1]!.contents, lineCounter), message: 'invalid YAML: a configuration file holds one document' }] };
  const doc = docs[0] ?? new Document();
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount });
  } catch (e) {
    if (e instanceof ReferenceError && /alias/i.test(e.message)) {
      return { candidate: null, problems: [{ code: 'ALIAS_LIMIT', ...startOf(doc.contents, lineCounter), message: `too many alias expansions (more than ${maxAliasCount}); refusing a possible resource exhaustion attack` }] };
    }
    throw e;
  }
  const at = startOf(doc.contents, lineCounter);
  return { candidate: { value: value ?? {}, ...at, locate: (path, pointAtKey) => locate(doc, doc.contents, path, lineCounter, pointAtKey ?? false) }, problems: [] };
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function collect(doc: Document, raw: unknown, lc: LineCounter, maxAliasCount: number, out: Candidate[], problems: YamlProblem[], inList: boolean): void {
  const node = resolve(doc, raw);
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
  const at = startOf(node, lc);
  if (isSeq(node)) {
    for (const item of node.items) collect(doc, item, lc, maxAliasCount, out, problems, true);
    return;
  }
  if (!isMap(node)) {
    problems.push({ code: 'NOT_A_RESOURCE', ...at, message: `expected a resource (a mapping with apiVersion, kind, metadata and spec)${inList ? '' : ' or a list of resources'}` });
    return;
  }
  let value: unknown;
  try {
    value = (node as Node).toJS(doc, { maxAliasCount });
  } catch (e) {
    if (e instanceof ReferenceError && /alias/i.test(e.message)) {
      problems.push({ code: 'ALIAS_LIMIT', ...at, message: `too many alias expansions (more than ${maxAliasCount}); refusing a possible resource exhaustion attack` });
      return;
    }
    throw e;
  }
  // `kind: List` (kubectl/calicoctl output) holds resources in `items`.
  const obj = value as Record<string, unknown>;
  if (obj.kind === 'List' || (typeof obj.kind === 'string' && obj.kind.endsWith('List') && 'items' in obj)) {
    const items = node.get('items', true);
    if (!isSeq(resolve(doc, items))) {
      problems.push({ code: 'NOT_A_RESOURCE', ...at, message: 'a List must have an `items` sequence' });
      return;
    }
    collect(doc, items, lc, maxAliasCount, out, problems, true);
    return;
  }
  out.push({ value, ...at, locate: (path, pointAtKey) => locate(doc, node, path, lc, pointAtKey ?? false) });
}

function startOf(node: unknown, lc: LineCounter): { line: number; col: number } {
  const range = (node as { range?: [number, number, number] }).range;
  return range ? pos(lc, range[0]) : { line: 1, col: 1 };
}

/**
 * Walks `path` through the YAML nodes. A scalar value is reported at the value itself; a block
 * value (map or sequence) at its key, which is the line the operator reads as "the field".
 */
function locate(doc: Document, root: unknown, path: readonly PropertyKey[], lc: LineCounter, pointAtKey: boolean): { line: number; col: number } {
  let node = root;
  let best = startOf(root, lc);
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    const current = resolve(doc, node);
    const last = i === path.length - 1;
    if (isMap(current)) {
      const pair = current.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      const value = resolve(doc, pair.value);
      best = last && (pointAtKey || !value || !isScalar(value)) ? startOf(pair.key, lc) : value ? startOf(value, lc) : startOf(pair.key, lc);
      if (!last && value && !isScalar(value)) best = startOf(pair.key, lc);
      node = pair.value;
    } else if (isSeq(current) && typeof seg === 'number') {
      const item = current.items[seg];
      if (item === undefined) return best;
      best = startOf(resolve(doc, item), lc);
      node = item;
    } else {
      return best;
    }
  }
  return best;
}
