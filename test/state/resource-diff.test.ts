import { describe, expect, it } from 'vitest';
import { readRepository } from '../../src/repository/repository.js';
import { resourceKey } from '../../src/state/desired-state.js';
import { diffResources } from '../../src/state/resource-diff.js';

const read = (files: Record<string, string>) => readRepository(Object.entries(files).map(([path, content]) => ({ path, content }))).resources;
const gnp = (name: string, body: string) => `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: ${name}\nspec:\n${body}`;

describe('the one resource diff (reconciler log and plan)', () => {
  const base = read({ 'a.yaml': gnp('a', "  selector: all()\n  ingress: [{ action: Allow }]\n"), 'b.yaml': gnp('b', '  selector: all()\n') });

  it('added, modified and removed, in the new revision’s order then the removed ones', () => {
    const head = read({ 'a.yaml': gnp('a', "  selector: all()\n  ingress: [{ action: Deny }]\n"), 'c.yaml': gnp('c', '  selector: all()\n') });
    expect(diffResources(base, head).map((d) => [d.key, d.change, d.before?.source.file, d.after?.source.file])).toEqual([
      ['GlobalNetworkPolicy/a', 'modified', 'a.yaml', 'a.yaml'],
      ['GlobalNetworkPolicy/c', 'added', undefined, 'c.yaml'],
      ['GlobalNetworkPolicy/b', 'removed', 'b.yaml', undefined],
    ]);
  });

  it('spelling out a default, reordering keys or moving the file is no change', () => {
    const head = read({
      'moved.yaml': gnp('a', "  ingress: [{ action: Allow }]\n  selector: all()\n  order: null\n  tier: default\n"),
      'b.yaml': gnp('b', '  selector: all()\n  types: [Ingress]\n'),
    });
    expect(diffResources(base, head)).toEqual([]);
  });

  it('the reconciler’s current resources by key give the same answer as a revision’s list', () => {
    const head = read({ 'a.yaml': gnp('a', '  selector: all()\n') });
    const byKey = new Map(base.map((l) => [resourceKey(l.resource), l]));
    expect(diffResources(byKey, head)).toEqual(diffResources(base, head));
  });
});
