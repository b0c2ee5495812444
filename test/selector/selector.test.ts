import { describe, expect, it } from 'vitest';
import { parseSelector, SelectorError } from '../../src/selector/index.js';

type Case = [selector: string, labels: Record<string, string>, expected: boolean];

// Calico's semantics per operator, including absent labels (docs/calico-model.md §2).
const EVALUATION: Case[] = [
  ['', {}, true],
  ['all()', { a: 'x' }, true],
  ['global()', {}, true],
  ['has(a)', { a: '' }, true],
  ['has(a)', { b: 'x' }, false],
  ['!has(a)', {}, true],
  ['!has(a)', { a: 'x' }, false],
  ["a == 'x'", { a: 'x' }, true],
  ["a == 'x'", { a: 'X' }, false],
  ["a == 'x'", {}, false],
  ["a != 'x'", {}, true],
  ["a != 'x'", { a: 'x' }, false],
  ["a != 'x'", { a: 'y' }, true],
  ["a in {'x', 'y'}", { a: 'y' }, true],
  ["a in {'x', 'y'}", { a: 'z' }, false],
  ["a in {'x'}", {}, false],
  ['a in {}', { a: '' }, false],
  ["a not in {'x'}", {}, true],
  ["a not in {'x'}", { a: 'x' }, false],
  ["a not in {'x'}", { a: 'y' }, true],
  ["a contains 'ell'", { a: 'hello' }, true],
  ["a contains ''", { a: '' }, true],
  ["a contains 'x'", {}, false],
  ["a starts with 'he'", { a: 'hello' }, true],
  ["a starts with 'lo'", { a: 'hello' }, false],
  ["a ends with 'lo'", { a: 'hello' }, true],
  ["a ends with 'he'", { a: 'hello' }, false],
  ["a ends with ''", {}, false],
  ["a == 'x' && b == 'y'", { a: 'x', b: 'y' }, true],
  ["a == 'x' && b == 'y'", { a: 'x' }, false],
  ["a == 'x' || b == 'y'", { b: 'y' }, true],
  ["a == 'x' || b == 'y'", {}, false],
  // && binds tighter than ||.
  ["a == 'x' || b == 'y' && c == 'z'", { a: 'x' }, true],
  ["(a == 'x' || b == 'y') && c == 'z'", { a: 'x' }, false],
  // A leading ! negates the whole following operation.
  ["!a == 'x'", {}, true],
  ["!a == 'x'", { a: 'x' }, false],
  ['!!has(a)', { a: '' }, true],
  ["!(a == 'x' && b == 'y')", { a: 'x', b: 'y' }, false],
  ['has(constructor)', {}, false],
  ["__proto__ == 'x'", {}, false],
  // Keywords are not reserved as label names.
  ["has == 'x'", { has: 'x' }, true],
  ["in in {'x'}", { in: 'x' }, true],
  ["not not in {'x'}", { not: 'y' }, true],
  ["contains contains 'x'", { contains: 'x' }, true],
  ["-a == 'x'", { '-a': 'x' }, true],
  ["kubernetes.io/hostname == 'node-a'", { 'kubernetes.io/hostname': 'node-a' }, true],
  ['a == "it\'s"', { a: "it's" }, true],
  ["a == '\"q\"'", { a: '"q"' }, true],
  ['a == "x\\"', { a: 'x\\' }, true],
  ["a startswith 'x'", { a: 'xy' }, true],
  ["a  starts   with 'x'", { a: 'xy' }, true],
  ["a notin {'x'}", {}, true],
  ["\ta == 'x'\t", { a: 'x' }, true],
  ["a in {'x',}", { a: 'x' }, true],
];

describe('selector evaluation', () => {
  it.each(EVALUATION)('%s on %j is %s', (text, labels, expected) => {
    expect(parseSelector(text).matches(labels)).toBe(expected);
  });
});

const CANONICAL: [string, string][] = [
  ['', 'all()'],
  ['  ', 'all()'],
  ['all()', 'all()'],
  ['all( )', 'all()'],
  ['global( )', 'global()'],
  ['has( a )', 'has(a)'],
  ["a=='x'", 'a == "x"'],
  ['a == "x"', 'a == "x"'],
  ["a != 'x'", 'a != "x"'],
  ["a == 'say \"hi\"'", "a == 'say \"hi\"'"],
  ["a in {'b', 'a', 'b'}", 'a in {"a", "b"}'],
  ["a notin{}", 'a not in {}'],
  ["a startswith 'x'", 'a starts with "x"'],
  ["a endswith 'x'", 'a ends with "x"'],
  ["a contains 'x'", 'a contains "x"'],
  ["a == 'x' && b == 'y'", '(a == "x" && b == "y")'],
  ["a == 'x' || b == 'y' || c == 'z'", '(a == "x" || b == "y" || c == "z")'],
  ["a == 'x' || b == 'y' && c == 'z'", '(a == "x" || (b == "y" && c == "z"))'],
  ["((a == 'x'))", 'a == "x"'],
  ['!has(a)', '!has(a)'],
  ['!!has(a)', 'has(a)'],
  ['!!!has(a)', '!has(a)'],
  ["!(a == 'x' || b == 'y')", '!(a == "x" || b == "y")'],
];

describe('canonical form', () => {
  it.each(CANONICAL)('%j prints as %j', (text, expected) => {
    expect(parseSelector(text).toString()).toBe(expected);
  });

  it('equal selectors compare equal', () => {
    expect(parseSelector("a in {'y','x'} && has(b)").toString()).toBe(parseSelector('(a in {"x", "y"}) && has( b )').toString());
  });

  it("unique id is Felix's s:+base64url(SHA-224)", () => {
    // The IP set Felix programs for all() is cali40s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf… in iptables mode.
    expect(parseSelector('').uniqueId()).toBe('s:5y5I3VdRZfDU01O--xXAPx2yxCQQqMf0M6IWug');
    expect(parseSelector("a=='x'").uniqueId()).toBe(parseSelector('a == "x"').uniqueId());
    expect(parseSelector("a=='x'").uniqueId()).not.toBe(parseSelector("a=='y'").uniqueId());
  });
});

type ErrorCase = [selector: string, message: string, offset: number];

const ERRORS: ErrorCase[] = [
  ["a = 'x'", 'expected ==', 2],
  ["a & b", 'expected &&', 2],
  ["has(a) & has(b)", 'expected &&', 7],
  ["has(a) | has(b)", 'expected ||', 7],
  ["a == 'x", 'unterminated string', 5],
  ['a == "x\\"y"', 'unterminated string', 10],
  ['a == x', 'expected string', 5],
  ["'x' == a", 'unexpected token', 0],
  ['a', 'unexpected end of string looking for op', 1],
  ["a ==", 'expected string', 4],
  ["a == 'x' &&", 'unexpected end of string looking for op', 11],
  ["a == 'x' ||", 'unexpected end of string looking for op', 11],
  ["(a == 'x'", 'expected )', 9],
  ["a == 'x')", 'unexpected content at end of selector', 8],
  ["a in {'x'", 'expected }', 9],
  ["a in 'x'", 'expected set literal', 5],
  ['a in {x}', 'expected }', 6],
  ["a in {'x',,}", 'expected }', 10],
  ['has (a)', "expected == or != not: '('", 4],
  ['has()', 'no label name in has( expression', 4],
  ['has(a', "no closing ')' after has(", 5],
  ['all(x)', "no closing ')' after all(", 4],
  ['global(', "no closing ')' after global(", 7],
  ["a == 'x'\n", 'unexpected characters', 8],
  ["a == 'x' &&\nb == 'y'", 'unexpected characters', 11],
  ["a b", "unexpected characters after label 'a'", 2],
  ["a == 'x' b == 'y'", 'unexpected content at end of selector', 9],
  ['!', 'unexpected end of string looking for op', 1],
  ['&&', 'unexpected token', 0],
  ['#', 'unexpected characters', 0],
  [`${'a'.repeat(513)} == 'x'`, 'label longer than 512 characters', 0],
];

describe('syntax errors', () => {
  it.each(ERRORS)('%j fails with %j at offset %i', (text, message, offset) => {
    let caught: unknown;
    try {
      parseSelector(text);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(SelectorError);
    const err = caught as SelectorError;
    expect(err.message).toContain(message);
    expect(err.offset).toBe(offset);
    expect(err.code).toBe('SELECTOR_SYNTAX');
    expect(err.selector).toBe(text);
  });

  it('accepts a 512-character label', () => {
    expect(parseSelector(`has(${'a'.repeat(512)})`).matches({ ['a'.repeat(512)]: '' })).toBe(true);
  });
});
