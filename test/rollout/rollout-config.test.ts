import { describe, expect, it } from 'vitest';
import { formatModelError } from '../../src/model/errors.js';
import { readRepository } from '../../src/repository/repository.js';
import { defaultRolloutConfig, parseRolloutConfig, resolveWaves, waveFailureBudgets, type FleetHost } from '../../src/rollout/rollout-config.js';

const fleet = (n: number, label = (i: number) => ({ zone: i % 2 ? 'b' : 'a' })): FleetHost[] =>
  Array.from({ length: n }, (_, i) => ({ name: `node-${String(i).padStart(2, '0')}`, labelSets: [label(i)] }));

describe('palisade.yaml', () => {
  it('defaults to one canary, then half, then the rest', () => {
    const config = defaultRolloutConfig();
    expect(config).toMatchObject({ soak: 0, maxFailures: 0, onFailure: 'halt', onNewCommit: 'supersede', checkAttempts: 3 });
    const waves = resolveWaves(config, fleet(5));
    expect(waves).toEqual([
      { name: 'canary', hosts: ['node-00'] },
      { name: 'wave-1', hosts: ['node-01', 'node-02', 'node-03'] },
      { name: 'wave-2', hosts: ['node-04'] },
    ]);
  });

  it('places every host in exactly one wave: hosts, selector, count, percent, rest', () => {
    const { config, errors } = parseRolloutConfig(
      ['waves:', '  - name: pinned', '    hosts: [node-03]', '  - name: zone-b', "    selector: zone == 'b'", '  - count: 1', '  - percent: 50', '  - name: rest', '    maxFailures: 2', 'maxFailures: 1'].join('\n'),
    );
    expect(errors).toEqual([]);
    const waves = resolveWaves(config!, fleet(8));
    expect(waves.map((w) => [w.name, w.hosts])).toEqual([
      ['pinned', ['node-03']],
      ['zone-b', ['node-01', 'node-05', 'node-07']],
      ['wave-2', ['node-00']],
      ['wave-3', ['node-02', 'node-04', 'node-06']],
    ]);
    expect(waves.flatMap((w) => w.hosts).sort()).toEqual(fleet(8).map((h) => h.name));
    expect(waveFailureBudgets(config!, waves)).toEqual([1, 1, 1, 1]);
  });

  it('parses durations and per-check timeouts', () => {
    const { config } = parseRolloutConfig('soak: 2m\nsoakInterval: 500ms\ntimeouts:\n  apply: 1h\nchecks:\n  - name: web\n    kind: http\n    timeout: 3s\n');
    expect(config).toMatchObject({ soak: 120_000, soakInterval: 500, timeouts: { apply: 3_600_000, verify: 10_000 } });
    expect(config!.checks[0]).toMatchObject({ kind: 'http', port: 80, path: '/', status: 200, timeoutMs: 3000, vantage: 'controller', expect: 'open' });
  });

  it('names file, line, column and field for every mistake', () => {
    const text = ['waves:', '  - count: 0', 'soak: soon', 'onFailure: panic', 'checks:', '  - name: x', '    kind: tcp', 'wavez: []'].join('\n');
    const { config, errors } = parseRolloutConfig(text, 'repo/palisade.yaml');
    expect(config).toBeNull();
    const lines = errors.map(formatModelError);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^repo\/palisade\.yaml:2:12: RolloutConfig: waves\.0\.count: /),
        expect.stringMatching(/^repo\/palisade\.yaml:3:7: RolloutConfig: soak: .*duration/),
        expect.stringMatching(/^repo\/palisade\.yaml:4:12: RolloutConfig: onFailure: /),
        expect.stringMatching(/^repo\/palisade\.yaml:6:5: RolloutConfig: checks\.0\.port: /),
        expect.stringMatching(/^repo\/palisade\.yaml:8:1: RolloutConfig: wavez: .*wavez/),
      ]),
    );
  });

  it('rejects a wave with two criteria and a selector that does not parse', () => {
    const { errors } = parseRolloutConfig("waves:\n  - count: 1\n    percent: 10\n  - selector: \"role = 'x'\"\n");
    expect(errors.map((e) => e.message)).toEqual(expect.arrayContaining([expect.stringMatching(/at most one of/), expect.stringMatching(/selector/i)]));
  });

  it('refuses YAML syntax errors, duplicate keys and alias bombs', () => {
    expect(parseRolloutConfig('soak: [1\n', 'p.yaml').errors[0]).toMatchObject({ code: 'YAML_SYNTAX', file: 'p.yaml' });
    expect(parseRolloutConfig('soak: 1\nsoak: 2\n').errors[0]).toMatchObject({ code: 'DUPLICATE_KEY', line: 2 });
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 6 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`)].join('\n');
    expect(parseRolloutConfig(bomb).errors[0]).toMatchObject({ code: 'ALIAS_LIMIT' });
  });

  it('is read with the resources: palisade.yaml is never mistaken for a Calico resource', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    const repo = readRepository([
      { path: 'palisade.yaml', content: enc('soak: 5s\n') },
      { path: 'sets/mgmt.yaml', content: enc('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata:\n  name: mgmt\nspec:\n  nets: [198.18.0.0/24]\n') },
    ]);
    expect(repo.errors).toEqual([]);
    expect(repo.rollout?.soak).toBe(5000);
    expect(repo.resources).toHaveLength(1);
    const broken = readRepository([{ path: 'palisade.yaml', content: enc('soak: forever\n') }]);
    expect(broken.rollout).toBeNull();
    expect(broken.errors[0]).toMatchObject({ file: 'palisade.yaml', line: 1, field: 'soak' });
  });
});
