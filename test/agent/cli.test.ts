import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { driversFromHostsFile } from '../../src/hosts/drivers.js';
import { HostsFile } from '../../src/hosts/hosts-file.js';

const io = () => {
  const out = { stdout: '', stderr: '' };
  return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
};

describe('palisade agent: command line and hosts file', () => {
  it('is listed, and says what is missing', async () => {
    const a = io();
    expect(await main(['--help'], a.io)).toBe(0);
    expect(a.out.stdout).toMatch(/agent\s+run on a host/);
    const b = io();
    expect(await main(['agent', '--node', 'n1'], b.io)).toBe(2);
    expect(b.out.stderr).toMatch(/needs --node and --store/);
    const c = io();
    expect(await main(['agent', '--node', 'n1', '--store', 'etcd://198.18.0.1:2379'], c.io)).toBe(2);
    expect(c.out.stderr).toMatch(/needs exactly one of --netns NS and --manage-this-machine/);
    const both = io();
    expect(await main(['agent', '--node', 'n1', '--store', 'etcd://198.18.0.1:2379', '--netns', 'x', '--manage-this-machine'], both.io)).toBe(2);
    expect(both.out.stderr).toMatch(/exactly one of/);
    const d = io();
    expect(await main(['agent', '--node', 'n1', '--store', 'http://x', '--netns', 'x'], d.io)).toBe(1);
    expect(d.out.stderr).toMatch(/ETCD_URL_INVALID/);
  });

  it('agent hosts in the hosts file need an etcd store', () => {
    const file = HostsFile.parse({ management: { address: '198.18.0.1' }, hosts: [{ kind: 'agent', name: 'n1', address: '198.18.0.11', confirmMs: 5000 }] });
    expect(() => driversFromHostsFile(file)).toThrow(/reconcile needs --store etcd:\/\//);
    expect(HostsFile.safeParse({ management: { address: 'x' }, hosts: [{ kind: 'agent', name: 'a/b', address: 'x' }] }).success).toBe(false);
  });
});
