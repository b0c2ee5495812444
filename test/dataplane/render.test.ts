import { describe, expect, it } from 'vitest';
import { compileHost, type HostProgram } from '../../src/compiler/index.js';
import { renderNft, RenderError, rulesetHash } from '../../src/dataplane/index.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

const facts = { node: 'n1', interfaces: [{ name: 'eth0', addresses: ['198.18.0.2/24'] }] };
const program = (): HostProgram =>
  compileHost(
    stateOf(
      hep('h', { node: 'n1', interfaceName: 'eth0' }, { role: 'x' }),
      gnp('p', { ingress: [{ action: 'Allow', protocol: 'TCP', source: { nets: ['198.18.4.0/24'] }, destination: { ports: [22, '80:90'] } }] }),
    ),
    facts,
  );

describe('renderNft', () => {
  it('replaces only table inet palisade, add-then-delete-then-define, deterministically', () => {
    const text = renderNft(program());
    expect(text.split('\n').slice(0, 3)).toEqual(['table inet palisade {}', 'delete table inet palisade', 'table inet palisade {']);
    expect(text).not.toMatch(/flush ruleset|destroy/);
    expect(text.match(/^table /gm)).toHaveLength(2);
    expect(renderNft(program())).toBe(text);
    expect(rulesetHash(renderNft(program()))).toBe(rulesetHash(text));
  });

  it('comments every rule with its policy and rule index', () => {
    const text = renderNft(program());
    expect(text).toContain('meta nfproto ipv4 meta l4proto 6 ip saddr 198.18.4.0/24 th dport { 22, 80-90 } accept comment "policy p ingress rule 0"');
    const ruleLines = text.split('\n').filter((l) => /^\t\t/.test(l) && !/^\t\t(type|flags|elements)/.test(l));
    for (const line of ruleLines) expect(line).toMatch(/comment "[^"]*"$/);
  });

  it('refuses names and strings that could inject nft syntax', () => {
    const p = program();
    expect(() => renderNft({ ...p, chains: [{ ...p.chains[0]!, id: 'x } ; flush ruleset' }] })).toThrow(RenderError);
    expect(() => renderNft({ ...p, interfaces: [{ iface: 'eth0" accept', role: 'hep', hep: 'h', via: 'interfaceName' }] })).toThrow(RenderError);
    expect(() => renderNft({ ...p, workloadPrefixes: ['cali"'] })).toThrow(RenderError);
  });

  it('keeps hostile policy names readable only when safe, hashed otherwise', () => {
    const hostile = compileHost(stateOf(hep('h', { node: 'n1', interfaceName: 'eth0' }), gnp('p', { ingress: [{ action: 'Allow' }] })), facts);
    const withName = { ...hostile, chains: hostile.chains.map((c) => ({ ...c, name: 'evil" accept; flush ruleset #' })) };
    const text = renderNft(withName);
    expect(text).not.toContain('flush ruleset #"');
    expect(text).toContain('comment "policy evil_ accept_ flush ruleset _ ingress rule 0"');
  });
});
