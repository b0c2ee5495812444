import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluate, sortedUnique, type SelectorNode } from '../../src/selector/ast.js';
import { parseSelector, selectorFromAst } from '../../src/selector/index.js';

const label = fc.stringMatching(/^[a-zA-Z0-9_./-]{1,12}$/);
// Calico has no escapes, so a value may hold one kind of quote but not both.
const value = fc.oneof(fc.stringMatching(/^[a-z0-9 "]{0,6}$/), fc.stringMatching(/^[a-z0-9 ']{0,6}$/), fc.string({ maxLength: 4 }).filter((s) => !(s.includes('"') && s.includes("'"))));

const leaf: fc.Arbitrary<SelectorNode> = fc.oneof(
  fc.constant<SelectorNode>({ op: 'all' }),
  fc.constant<SelectorNode>({ op: 'global' }),
  label.map((l): SelectorNode => ({ op: 'has', label: l })),
  fc.record({ op: fc.constantFrom('==', '!=', 'contains', 'starts with', 'ends with' as const), label, value }).map((n) => n as SelectorNode),
  fc.record({ op: fc.constantFrom('in', 'not in' as const), label, values: fc.array(value, { maxLength: 4 }).map(sortedUnique) }).map((n) => n as SelectorNode),
);

// Trees in the parser's normal form: and/or have ≥2 operands and no double negation.
const tree: fc.Arbitrary<SelectorNode> = fc.letrec<{ node: SelectorNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('node').filter((n) => n.op !== 'not').map((n): SelectorNode => ({ op: 'not', operand: n })),
    fc.record({ op: fc.constantFrom('and', 'or' as const), operands: fc.array(tie('node'), { minLength: 2, maxLength: 3 }) }).map((n) => n as SelectorNode),
  ),
})).node;

const labels = fc.dictionary(fc.oneof(label, fc.constantFrom('a', 'b', 'role')), value, { maxKeys: 4 });

describe('selector properties', () => {
  it('parse(print(x)) = x for every tree', () => {
    fc.assert(
      fc.property(tree, (ast) => {
        expect(parseSelector(selectorFromAst(ast).toString()).ast).toEqual(ast);
      }),
      { numRuns: 500 },
    );
  });

  it('the canonical form is a fixed point and keeps the meaning', () => {
    fc.assert(
      fc.property(tree, labels, (ast, l) => {
        const printed = selectorFromAst(ast).toString();
        const reparsed = parseSelector(printed);
        expect(reparsed.toString()).toBe(printed);
        expect(reparsed.uniqueId()).toBe(selectorFromAst(ast).uniqueId());
        expect(reparsed.matches(l)).toBe(evaluate(ast, l));
      }),
      { numRuns: 500 },
    );
  });

  it('negation and De Morgan hold under evaluation', () => {
    fc.assert(
      fc.property(tree, tree, labels, (a, b, l) => {
        const sa = selectorFromAst(a).toString();
        const sb = selectorFromAst(b).toString();
        expect(parseSelector(`!(${sa})`).matches(l)).toBe(!evaluate(a, l));
        expect(parseSelector(`!(${sa} || ${sb})`).matches(l)).toBe(parseSelector(`!(${sa}) && !(${sb})`).matches(l));
      }),
      { numRuns: 300 },
    );
  });

  it('never throws anything but SelectorError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        try {
          parseSelector(text);
        } catch (e) {
          expect((e as { code?: string }).code).toBe('SELECTOR_SYNTAX');
          expect((e as { offset: number }).offset).toBeGreaterThanOrEqual(0);
          expect((e as { offset: number }).offset).toBeLessThanOrEqual(text.length);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
