import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseRolloutConfig } from '../../src/rollout/rollout-config.js';

describe("the README's checks", () => {
  it('its palisade.yaml example parses, with every kind, both vantages and a closed check', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('#### Examples (`palisade.yaml`)'));
    const example = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toBeDefined();
    const { config, errors } = parseRolloutConfig(example!);
    expect(errors).toEqual([]);
    const checks = config!.checks;
    expect(new Set(checks.map((c) => c.kind))).toEqual(new Set(['tcp', 'ssh', 'dns', 'icmp', 'http']));
    expect(new Set(checks.map((c) => c.vantage))).toEqual(new Set(['controller', 'host']));
    expect(checks.find((c) => c.name === 'no-telnet')).toMatchObject({ expect: 'closed', timeoutMs: 500 });
  });

  it('a bad DNS query name is reported at its line in palisade.yaml', () => {
    const { errors } = parseRolloutConfig('checks:\n  - name: r\n    kind: dns\n    query: a..b\n');
    expect(errors).toMatchObject([{ code: 'ROLLOUT_CONFIG_INVALID', line: 4, field: 'checks.0.query', message: expect.stringContaining('empty label') }]);
  });
});
