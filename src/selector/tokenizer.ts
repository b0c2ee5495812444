import { SelectorError } from './selector.js';

export type TokenKind =
  | 'label' | 'string' | '{' | '}' | ',' | '==' | '!=' | 'in' | '!' | 'not in'
  | 'contains' | 'starts with' | 'ends with' | 'all' | 'global' | 'has' | '(' | ')' | '&&' | '||' | 'eof';

export interface Token {
  kind: TokenKind;
  value: string;
  /** 0-based offset of the token's first character in the selector text. */
  offset: number;
}

export const MAX_LABEL_LENGTH = 512;

const isLabelChar = (c: string | undefined): boolean => c !== undefined && /[a-zA-Z0-9_./-]/.test(c);
// Calico's whitespace is space and TAB only: a newline inside a selector is a syntax error.
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Calico's tokenizer (`selector/tokenizer`), keeping each token's offset for error messages. */
export function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (message: string, at: number): never => {
    throw new SelectorError(message, text, at);
  };
  const skipSpace = (from: number): number => {
    let j = from;
    while (isSpace(text[j])) j++;
    return j;
  };
  const readLabel = (from: number): string => {
    let j = from;
    while (isLabelChar(text[j])) j++;
    if (j - from > MAX_LABEL_LENGTH) fail(`label longer than ${MAX_LABEL_LENGTH} characters`, from);
    return text.slice(from, j);
  };
  const push = (kind: TokenKind, offset: number, end: number, value = ''): void => {
    tokens.push({ kind, value, offset });
    i = end;
  };
  // The word pairs allow any run of spaces between the words ("startswith", "not  in").
  const wordPair = (first: string, second: string): number | undefined => {
    if (!text.startsWith(first, i)) return undefined;
    const j = skipSpace(i + first.length);
    return text.startsWith(second, j) ? j + second.length : undefined;
  };

  for (;;) {
    i = skipSpace(i);
    if (i >= text.length) {
      tokens.push({ kind: 'eof', value: '', offset: text.length });
      return tokens;
    }
    const c = text[i]!;
    const next = text[i + 1];
    switch (c) {
      case '(': case ')': case '{': case '}': case ',':
        push(c, i, i + 1);
        continue;
      case '"': case "'": {
        const close = text.indexOf(c, i + 1);
        if (close === -1) fail('unterminated string', i);
        push('string', i, close + 1, text.slice(i + 1, close));
        continue;
      }
      case '=':
        if (next !== '=') fail('expected ==', i);
        push('==', i, i + 2);
        continue;
      case '!':
        if (next === '=') push('!=', i, i + 2);
        else push('!', i, i + 1);
        continue;
      case '&':
        if (next !== '&') fail('expected &&', i);
        push('&&', i, i + 2);
        continue;
      case '|':
        if (next !== '|') fail('expected ||', i);
        push('||', i, i + 2);
        continue;
    }
    const last = tokens[tokens.length - 1];
    if (last?.kind === 'label') {
      // After a label only an operator may follow, so keywords here are never labels.
      let end: number | undefined;
      if (text.startsWith('contains', i)) push('contains', i, i + 'contains'.length);
      else if ((end = wordPair('starts', 'with')) !== undefined) push('starts with', i, end);
      else if ((end = wordPair('ends', 'with')) !== undefined) push('ends with', i, end);
      else if ((end = wordPair('not', 'in')) !== undefined) push('not in', i, end);
      else if (text.startsWith('in', i)) push('in', i, i + 2);
      else fail(`unexpected characters after label '${last.value}', was expecting an operator`, i);
      continue;
    }
    if (text.startsWith('has(', i)) {
      const start = skipSpace(i + 4);
      const label = readLabel(start);
      if (label === '') fail('no label name in has( expression', start);
      const close = skipSpace(start + label.length);
      if (text[close] !== ')') fail("no closing ')' after has(", close);
      push('has', i, close + 1, label);
      continue;
    }
    const call = ['all', 'global'].find((w) => text.startsWith(`${w}(`, i)) as 'all' | 'global' | undefined;
    if (call) {
      const close = skipSpace(i + call.length + 1);
      if (text[close] !== ')') fail(`no closing ')' after ${call}(`, close);
      push(call, i, close + 1);
      continue;
    }
    const label = readLabel(i);
    if (label === '') fail('unexpected characters', i);
    push('label', i, i + label.length, label);
  }
}
