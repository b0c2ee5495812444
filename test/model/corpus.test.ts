import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatModelError } from '../../src/model/errors.js';
import { loadPolicyFiles } from '../../src/model/load.js';

// Each corpus file states the problem it must produce in its first line, `# expect: line:col: text`
// (for byte-level failures the expectation sits wherever it can be read).
const dir = join(import.meta.dirname, 'corpus');
const cases = readdirSync(dir).sort().map((name) => {
  const content = readFileSync(join(dir, name));
  const expectation = /# expect: (.*)/.exec(content.toString('latin1'))?.[1];
  if (!expectation) throw new Error(`${name} has no '# expect:' line`);
  return [name, content, expectation] as const;
});

describe('bad-input corpus', () => {
  it.each(cases)('%s is rejected as expected', (name, content, expectation) => {
    const { errors, resources } = loadPolicyFiles([{ path: name, content: new Uint8Array(content) }]);
    expect(resources).toEqual([]);
    const formatted = errors.map(formatModelError);
    expect(formatted.some((line) => line.startsWith(`${name}:${expectation}`)), `expected "${name}:${expectation}…" in\n${formatted.join('\n')}`).toBe(true);
  });
});
