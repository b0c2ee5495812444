import { describe, expect, it } from 'vitest';
import type { HostDriver } from '../../src/hosts/host-driver.js';
import { silentLogger } from '../../src/log/logger.js';
import { DriftLoop } from '../../src/reconciler/drift-loop.js';

/** A driver that only counts how often its table is listed. */
function countingDriver(name: string, listing: string) {
  const driver = {
    name,
    address: '198.18.0.10',
    simulated: true,
    lists: 0,
    readInterfaces: async () => [],
    current: async () => {
      driver.lists += 1;
      return listing;
    },
    apply: async () => undefined,
    restore: async () => undefined,
    check: async () => ({ name: 'x', ok: true, detail: '' }),
  };
  return driver;
}

const settle = () => new Promise((r) => setTimeout(r, 10));

describe('drift loop', () => {
  it('takes a confirmed host\'s baseline from its apply\'s read-back, and lists a restored host anew', async () => {
    const a = countingDriver('a', 'table inet palisade { }');
    const b = countingDriver('b', 'table inet palisade { }');
    const loop = new DriftLoop({ drivers: new Map<string, HostDriver>([['a', a], ['b', b]]), logger: silentLogger(), record: async () => undefined });
    const observer = loop.observerFor('r1');
    const ruleset = { hash: 'h', text: 'table inet palisade { }', program: null };

    observer.applying('a', ruleset);
    observer.applied!('a', 'table inet palisade { }');
    observer.settled('a', 'confirmed');
    await settle();
    expect(a.lists).toBe(0);

    // Read back, then restored: what the host holds now is the restored table, listed again.
    observer.applying('b', ruleset);
    observer.applied!('b', 'table inet palisade { }');
    observer.applying('b', { hash: 'previous', text: '', program: null });
    observer.settled('b', 'rolledBack');
    await settle();
    expect(b.lists).toBe(1);

    // A confirmed host whose apply was not read back (agents, SSH) is listed.
    observer.applying('a', ruleset);
    observer.settled('a', 'confirmed');
    await settle();
    expect(a.lists).toBe(1);
  });
});
