import { parseYamlResources, type Candidate } from '../model/yaml-source.js';
import type { SourceLocation } from '../state/desired-state.js';
import type { LoadedRevision } from './revision.js';

/**
 * Finds the line of a field inside a resource (a rule, a selector, a failsafe list), so lints and
 * reachability changes point where a reviewer should look. Files are re-parsed lazily, once.
 */
export class FieldLocator {
  private readonly parsed = new Map<string, Candidate[]>();

  constructor(private readonly rev: Pick<LoadedRevision, 'state' | 'texts'>) {}

  /** `path` inside the resource `Kind/name`; the resource's own position when the path is absent. */
  locate(key: string, path: readonly (string | number)[] = []): SourceLocation | undefined {
    const source = this.rev.state.sources[key];
    if (!source) return undefined;
    const candidate = this.candidates(source.file).find((c) => c.line === source.line && c.col === source.col);
    if (!candidate || path.length === 0) return source;
    return { file: source.file, ...candidate.locate(path) };
  }

  private candidates(file: string): Candidate[] {
    let list = this.parsed.get(file);
    if (!list) {
      const text = this.rev.texts.get(file);
      list = text === undefined ? [] : parseYamlResources(text).candidates;
      this.parsed.set(file, list);
    }
    return list;
  }
}

