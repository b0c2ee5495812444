import { execFile } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { algorithmsFor, appendKnownHost, fingerprint, judgeHostKey, keyType, parseKnownHosts, readKnownHosts } from '../../src/hosts/ssh/known-hosts.js';
import { sshPrerequisites } from '../../src/lab/lab-sshd.js';

const run = promisify(execFile);
const ssh = await sshPrerequisites();

/** A wire-format public key blob: string type, then some key bytes. */
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, Buffer.from(seed.padEnd(32, '.'))]);
}
const A = blob('ssh-ed25519', 'key-a');
const B = blob('ssh-ed25519', 'key-b');
const R = blob('ssh-rsa', 'key-r');
const line = (hosts: string, k: Buffer) => `${hosts} ${keyType(k)} ${k.toString('base64')}`;
const hashed = (name: string) => {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
};

describe('known_hosts (sshd(8) SSH_KNOWN_HOSTS FILE FORMAT)', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('finds a host by plain, listed, wildcard, port-qualified and hashed names; negation excludes a line', () => {
    const text = [
      '# comment',
      line('10.0.0.1', A),
      line('web,198.18.0.11', B),
      line('[198.18.0.11]:2222', R),
      line('198.18.0.*,!198.18.0.13', R),
      line(hashed('198.18.0.14'), A),
      '',
    ].join('\n');
    const keys = (host: string, port = 22) => parseKnownHosts(text, 'kh', host, port).keys.map((k) => [k.type, k.at]);
    expect(keys('198.18.0.11')).toEqual([['ssh-ed25519', 'kh:3'], ['ssh-rsa', 'kh:5']]);
    expect(keys('198.18.0.11', 2222)).toEqual([['ssh-rsa', 'kh:4']]);
    expect(keys('198.18.0.13')).toEqual([]);
    expect(keys('198.18.0.14')).toEqual([['ssh-rsa', 'kh:5'], ['ssh-ed25519', 'kh:6']]);
    expect(keys('10.0.0.2')).toEqual([]);
  });

  it('accepts a listed key, refuses an unknown host, a changed key and a revoked one, naming fingerprints and lines', () => {
    const text = [line('198.18.0.11', A), `@revoked ${line('*', R)}`, `@cert-authority ${line('*', B)}`].join('\n');
    const known = parseKnownHosts(text, '/etc/palisade/known_hosts', '198.18.0.11', 22);
    expect(judgeHostKey(known, A, 'node-a', '/etc/palisade/known_hosts')).toEqual({ ok: true });
    const changed = judgeHostKey(known, B, 'node-a (root@198.18.0.11:22)', '/etc/palisade/known_hosts');
    expect(changed).toMatchObject({ ok: false, code: 'SSH_HOST_KEY_CHANGED' });
    expect(!changed.ok && changed.message).toContain(`HOST KEY CHANGED: the server offered ssh-ed25519 ${fingerprint(B)}, but /etc/palisade/known_hosts holds ssh-ed25519 ${fingerprint(A)} (/etc/palisade/known_hosts:1)`);
    const revoked = judgeHostKey(known, R, 'node-a', 'kh');
    expect(revoked).toMatchObject({ ok: false, code: 'SSH_HOST_KEY_REVOKED' });
    expect(!revoked.ok && revoked.message).toContain('/etc/palisade/known_hosts:2 marks @revoked');
    const unknown = judgeHostKey(parseKnownHosts(text, 'kh', '198.18.0.99', 22), B, 'node-z', 'kh');
    expect(unknown).toMatchObject({ ok: false, code: 'SSH_HOST_KEY_UNKNOWN' });
    expect(!unknown.ok && unknown.message).toContain(`the server offered ssh-ed25519 ${fingerprint(B)} and kh has no key for it`);
  });

  it('asks for the host key algorithms of the keys it knows', () => {
    expect(algorithmsFor(['ssh-ed25519'])).toEqual(['ssh-ed25519']);
    expect(algorithmsFor(['ssh-rsa', 'ecdsa-sha2-nistp256', 'ssh-rsa'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ecdsa-sha2-nistp256']);
  });

  it('trust on first use writes a line that is read back (port-qualified when not 22)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-kh-'));
    dirs.push(dir);
    const file = path.join(dir, 'sub', 'known_hosts');
    expect((await readKnownHosts(file, '198.18.0.11', 2222)).keys).toEqual([]);
    await appendKnownHost(file, '198.18.0.11', 2222, A);
    expect(await readFile(file, 'utf8')).toBe(`[198.18.0.11]:2222 ssh-ed25519 ${A.toString('base64')}\n`);
    expect((await readKnownHosts(file, '198.18.0.11', 2222)).keys.map((k) => k.blob.equals(A))).toEqual([true]);
    expect((await readKnownHosts(file, '198.18.0.11', 22)).keys).toEqual([]);
  });

  it.skipIf(!ssh.ok)('fingerprints match ssh-keygen -l', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-kh-'));
    dirs.push(dir);
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'k')]);
    const pub = (await readFile(path.join(dir, 'k.pub'), 'utf8')).split(' ');
    const { stdout } = await run('ssh-keygen', ['-l', '-f', path.join(dir, 'k.pub')]);
    expect(fingerprint(Buffer.from(pub[1]!, 'base64'))).toBe(stdout.split(' ')[1]);
    expect(keyType(Buffer.from(pub[1]!, 'base64'))).toBe(pub[0]);
  });
});
