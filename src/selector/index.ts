import { canonical, evaluate, uniqueIdOf, type SelectorNode } from './ast.js';
import { parseAst } from './parser.js';
import type { Labels, Selector } from './selector.js';

export { SelectorError, type Labels, type Selector } from './selector.js';
export type { SelectorNode } from './ast.js';
export { canonical as selectorToString } from './ast.js';

class ParsedSelector implements Selector {
  private readonly text: string;
  private id: string | undefined;

  constructor(readonly ast: SelectorNode) {
    this.text = canonical(ast);
  }

  matches(labels: Labels): boolean {
    return evaluate(this.ast, labels);
  }

  toString(): string {
    return this.text;
  }

  uniqueId(): string {
    this.id ??= uniqueIdOf(this.text);
    return this.id;
  }
}

/** Parses Calico selector syntax (docs/calico-model.md §2); throws `SelectorError` with the failing offset. */
export function parseSelector(text: string): Selector {
  return new ParsedSelector(parseAst(text));
}

/** A selector built from a tree, e.g. one a compiler rewrote. */
export function selectorFromAst(ast: SelectorNode): Selector {
  return new ParsedSelector(ast);
}

/** True when the tree uses `global()` anywhere; Calico forbids it outside a rule's namespaceSelector. */
export function usesGlobal(node: SelectorNode): boolean {
  switch (node.op) {
    case 'global': return true;
    case 'not': return usesGlobal(node.operand);
    case 'and': case 'or': return node.operands.some(usesGlobal);
    default: return false;
  }
}
