/**
 * The public face of Calico's selector language (docs/calico-model.md §2).
 * `parseSelector` throws `SelectorError` (with the 0-based character offset where parsing failed).
 */
import type { SelectorNode } from './ast.js';

export type Labels = Readonly<Record<string, string>>;

export interface Selector {
  matches(labels: Labels): boolean;
  /** Calico's canonical string form: equal selectors print equal. */
  toString(): string;
  /** `s:` + base64url(SHA-224(`s:` + canonical)): Felix's name for the selector's IP set. */
  uniqueId(): string;
  /** The parse tree, for compilers that need more than `matches`. */
  readonly ast: SelectorNode;
}

export class SelectorError extends Error {
  readonly code = 'SELECTOR_SYNTAX';
  constructor(
    message: string,
    readonly selector: string,
    readonly offset: number,
  ) {
    super(`${message} at character ${offset + 1} of selector ${JSON.stringify(selector)}`);
    this.name = 'SelectorError';
  }
}
