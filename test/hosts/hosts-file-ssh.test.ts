import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHostsFile } from '../../src/hosts/hosts-file.js';

describe('hosts file: kind ssh', () => {
  let dir = '';
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  const write = async (hosts: unknown[]) => {
    dir ||= await mkdtemp(path.join(os.tmpdir(), 'palisade-hosts-ssh-'));
    const file = path.join(dir, `hosts-${Math.random().toString(36).slice(2)}.json`);
    await writeFile(file, JSON.stringify({ management: { address: '198.18.0.1' }, hosts }));
    return file;
  };

  it('fills in the defaults: root, port 22, no trust on first use, /var/lib/palisade on the host', async () => {
    const file = await write([{ kind: 'ssh', name: 'node-a', address: '198.18.0.11' }]);
    expect((await readHostsFile(file)).hosts).toEqual([{ kind: 'ssh', name: 'node-a', address: '198.18.0.11', user: 'root', port: 22, acceptNewHostKey: false, stateDir: '/var/lib/palisade' }]);
  });

  it('names the file, the host and the field of a bad entry', async () => {
    const file = await write([{ kind: 'ssh', name: 'node-a', address: '198.18.0.11', user: 'root; rm -rf /', stateDir: 'relative/dir', confirmMs: 10, identityFile: '/k', knownHostsFile: '/kh', tofu: true }]);
    const message = await readHostsFile(file).then(() => '', (e: Error) => e.message);
    expect(message).toContain(`${file}: hosts.0.user: a user name is letters, digits, _, . or -`);
    expect(message).toContain(`${file}: hosts.0.stateDir: an absolute path`);
    expect(message).toContain(`${file}: hosts.0.confirmMs:`);
    expect(message).toMatch(/hosts\.0: Unrecognized key: "tofu"|tofu/);
  });
});
