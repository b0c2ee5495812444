import { sortedUnique, type SelectorNode } from './ast.js';
import { SelectorError } from './selector.js';
import { tokenize, type Token } from './tokenizer.js';

const COMPARISONS = new Set(['==', '!=', 'contains', 'starts with', 'ends with']);

const describe = (t: Token): string =>
  t.kind === 'eof' ? 'end of selector' : t.kind === 'label' ? `label '${t.value}'` : t.kind === 'string' ? `string ${JSON.stringify(t.value)}` : `'${t.kind}'`;

/**
 * Calico's recursive-descent parser (`selector/parser`): `||` binds loosest, then `&&`, then a
 * possibly negated operation. Empty input means `all()`.
 */
export function parseAst(text: string): SelectorNode {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token => tokens[pos]!;
  const fail = (message: string, at: Token): never => {
    throw new SelectorError(message, text, at.offset);
  };

  const parseOr = (): SelectorNode => {
    const operands = [parseAnd()];
    while (peek().kind === '||') {
      pos++;
      operands.push(parseAnd());
    }
    return operands.length === 1 ? operands[0]! : { op: 'or', operands };
  };

  const parseAnd = (): SelectorNode => {
    const operands = [parseOperation()];
    while (peek().kind === '&&') {
      pos++;
      operands.push(parseOperation());
    }
    return operands.length === 1 ? operands[0]! : { op: 'and', operands };
  };

  const parseOperation = (): SelectorNode => {
    // Calico toggles on each leading '!', so '!!x' is x.
    let negated = false;
    while (peek().kind === '!') {
      negated = !negated;
      pos++;
    }
    const node = parseOperand();
    return negated ? { op: 'not', operand: node } : node;
  };

  const parseOperand = (): SelectorNode => {
    const t = peek();
    switch (t.kind) {
      case 'has':
        pos++;
        return { op: 'has', label: t.value };
      case 'all':
      case 'global':
        pos++;
        return { op: t.kind };
      case '(': {
        pos++;
        const inner = parseOr();
        if (peek().kind !== ')') fail('expected )', peek());
        pos++;
        return inner;
      }
      case 'label':
        pos++;
        return parseComparison(t.value);
      case 'eof':
        return fail('unexpected end of string looking for op', t);
      default:
        return fail(`unexpected token: ${describe(t)}`, t);
    }
  };

  const parseComparison = (label: string): SelectorNode => {
    const op = peek();
    if (op.kind === 'eof') fail('unexpected end of string looking for op', op);
    pos++;
    if (COMPARISONS.has(op.kind)) {
      const literal = peek();
      if (literal.kind !== 'string') fail('expected string', literal);
      pos++;
      return { op: op.kind as '==' | '!=' | 'contains' | 'starts with' | 'ends with', label, value: literal.value };
    }
    if (op.kind === 'in' || op.kind === 'not in') {
      if (peek().kind !== '{') fail('expected set literal', peek());
      pos++;
      const values: string[] = [];
      while (peek().kind === 'string') {
        values.push(peek().value);
        pos++;
        if (peek().kind !== ',') break;
        pos++;
      }
      if (peek().kind !== '}') fail('expected }', peek());
      pos++;
      return { op: op.kind, label, values: sortedUnique(values) };
    }
    return fail(`expected == or != not: ${describe(op)}`, op);
  };

  if (peek().kind === 'eof') return { op: 'all' };
  const root = parseOr();
  if (peek().kind !== 'eof') fail(`unexpected content at end of selector: ${describe(peek())}`, peek());
  return root;
}
