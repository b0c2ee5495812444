import { createHash } from 'node:crypto';
import type { Labels } from './selector.js';

/** The parsed form of a selector; mirrors Calico's node types one for one. */
export type SelectorNode =
  | { readonly op: 'all' }
  | { readonly op: 'global' }
  | { readonly op: 'has'; readonly label: string }
  | { readonly op: '==' | '!=' | 'contains' | 'starts with' | 'ends with'; readonly label: string; readonly value: string }
  | { readonly op: 'in' | 'not in'; readonly label: string; readonly values: readonly string[] }
  | { readonly op: 'not'; readonly operand: SelectorNode }
  | { readonly op: 'and' | 'or'; readonly operands: readonly SelectorNode[] };

// Own-property lookup, so a label named `constructor` or `__proto__` is never inherited.
const lookup = (labels: Labels, key: string): string | undefined =>
  Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : undefined;

/** Calico's semantics, including that `!=` and `not in` match when the label is absent. */
export function evaluate(node: SelectorNode, labels: Labels): boolean {
  switch (node.op) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return lookup(labels, node.label) !== undefined;
    case 'not':
      return !evaluate(node.operand, labels);
    case 'and':
      return node.operands.every((o) => evaluate(o, labels));
    case 'or':
      return node.operands.some((o) => evaluate(o, labels));
  }
  const v = lookup(labels, node.label);
  switch (node.op) {
    case '==': return v !== undefined && v === node.value;
    case '!=': return v === undefined || v !== node.value;
    case 'contains': return v !== undefined && v.includes(node.value);
    case 'starts with': return v !== undefined && v.startsWith(node.value);
    case 'ends with': return v !== undefined && v.endsWith(node.value);
    case 'in': return v !== undefined && node.values.includes(v);
    case 'not in': return v === undefined || !node.values.includes(v);
  }
}

// Calico has no escapes: a value is printed in whichever quote it does not contain.
const quote = (s: string): string => (s.includes('"') ? `'${s}'` : `"${s}"`);

/** Calico's `String()`: the text Felix hashes, so it must match byte for byte. */
export function canonical(node: SelectorNode): string {
  switch (node.op) {
    case 'all': return 'all()';
    case 'global': return 'global()';
    case 'has': return `has(${node.label})`;
    case 'not': return `!${canonical(node.operand)}`;
    case 'and': return `(${node.operands.map(canonical).join(' && ')})`;
    case 'or': return `(${node.operands.map(canonical).join(' || ')})`;
    case 'in':
    case 'not in':
      return `${node.label} ${node.op} {${node.values.map(quote).join(', ')}}`;
    default:
      return `${node.label} ${node.op} ${quote(node.value)}`;
  }
}

/** Go compares strings bytewise; UTF-16 order differs for astral characters, so compare UTF-8. */
export function sortedUnique(values: readonly string[]): string[] {
  const unique = [...new Set(values)];
  return unique.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/** Felix's `hash.MakeUniqueID("s", canonical)`; it names the selector's IP set. */
export function uniqueIdOf(canonicalText: string): string {
  return 's:' + createHash('sha224').update('s:' + canonicalText, 'utf8').digest('base64url');
}
