/**
 * The public face of Calico's selector language (calico-model.md §2).
 * `parseSelector` throws `SelectorError` (with the 0-based character offset where parsing failed).
 */
export type Labels = Readonly<Record<string, string>>;

export interface Selector {
  matches(labels: Labels): boolean;
  /** Calico's canonical string form: equal selectors print equal. */
  toString(): string;
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
