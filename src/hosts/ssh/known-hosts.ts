import { createHash, createHmac } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * OpenSSH's known_hosts format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): `[marker] hosts keytype
 * base64 [comment]`, hosts a comma-separated list of names, `[name]:port` for other ports than
 * 22, `*`/`?` wildcards, `!` negation, or one hashed name `|1|salt|HMAC-SHA1(salt, name)`.
 * `@revoked` keys are refused wherever they appear; `@cert-authority` lines are skipped
 * (Palisade does not check host certificates).
 */
export interface KnownKey {
  type: string;
  blob: Buffer;
  /** file:line, for messages. */
  at: string;
}

export interface HostKeys {
  /** The keys the file accepts for this host and port. */
  keys: KnownKey[];
  revoked: KnownKey[];
}

/** `SHA256:…` as `ssh-keygen -l` and OpenSSH's own messages print it. */
export const fingerprint = (blob: Buffer): string => `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;

/** The key type named inside a wire-format public key blob (`ssh-ed25519`, `ssh-rsa`, …). */
export function keyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return n > 0 && n < 64 && blob.length >= 4 + n ? blob.subarray(4, 4 + n).toString('latin1') : 'unknown';
}

/** The name a host is written under: the address for port 22, `[address]:port` otherwise. */
export const hostToken = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function hashedMatches(entry: string, name: string): boolean {
  const [, kind, salt, hash] = entry.split('|');
  if (kind !== '1' || !salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
}

/** Whether a line's host list names `token` (a negated match excludes the line). */
function namesHost(list: string, token: string): boolean {
  if (list.startsWith('|')) return hashedMatches(list, token);
  let matched = false;
  for (const p of list.split(',')) {
    if (p.startsWith('!')) {
      if (wildcard(p.slice(1), token)) return false;
    } else if (wildcard(p, token)) matched = true;
  }
  return matched;
}

export function parseKnownHosts(text: string, file: string, host: string, port: number): HostKeys {
  const token = hostToken(host, port);
  const out: HostKeys = { keys: [], revoked: [] };
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    const marker = fields[0]!.startsWith('@') ? fields.shift()! : null;
    const [hosts, type, b64] = fields;
    if (!hosts || !type || !b64 || marker === '@cert-authority' || !namesHost(hosts, token)) continue;
    const key = { type, blob: Buffer.from(b64, 'base64'), at: `${file}:${i + 1}` };
    (marker === '@revoked' ? out.revoked : out.keys).push(key);
  }
  return out;
}

export async function readKnownHosts(file: string, host: string, port: number): Promise<HostKeys> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return '';
    throw e;
  });
  return parseKnownHosts(text, file, host, port);
}

/** Trust on first use: the key is written down, so from now on it is checked like any other. */
export async function appendKnownHost(file: string, host: string, port: number, blob: Buffer): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await appendFile(file, `${hostToken(host, port)} ${keyType(blob)} ${blob.toString('base64')}\n`, { mode: 0o600 });
}

/** Host key algorithms that produce keys of a known_hosts key type, so the server offers one we can check. */
export function algorithmsFor(types: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of types) {
    const algs = t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t];
    for (const a of algs) if (!out.includes(a)) out.push(a);
  }
  return out;
}

export type HostKeyVerdict = { ok: true } | { ok: false; code: 'SSH_HOST_KEY_UNKNOWN' | 'SSH_HOST_KEY_CHANGED' | 'SSH_HOST_KEY_REVOKED'; message: string };

/** Judges the key a server offered against what the known-hosts file says for it. */
export function judgeHostKey(known: HostKeys, offered: Buffer, where: string, file: string): HostKeyVerdict {
  const offeredText = `${keyType(offered)} ${fingerprint(offered)}`;
  const revoked = known.revoked.find((k) => k.blob.equals(offered));
  if (revoked) return { ok: false, code: 'SSH_HOST_KEY_REVOKED', message: `${where}: the server offered ${offeredText}, which ${revoked.at} marks @revoked; refusing to connect` };
  if (known.keys.some((k) => k.blob.equals(offered))) return { ok: true };
  if (known.keys.length === 0) {
    return {
      ok: false,
      code: 'SSH_HOST_KEY_UNKNOWN',
      message: `${where}: host key not known: the server offered ${offeredText} and ${file} has no key for it; check that fingerprint out of band and add the key to ${file}, or set "acceptNewHostKey": true to trust it on first use`,
    };
  }
  const held = known.keys.map((k) => `${k.type} ${fingerprint(k.blob)} (${k.at})`).join(', ');
  return {
    ok: false,
    code: 'SSH_HOST_KEY_CHANGED',
    message: `${where}: HOST KEY CHANGED: the server offered ${offeredText}, but ${file} holds ${held}; refusing to connect (the host may have been reinstalled, or someone is intercepting: check, then replace the line)`,
  };
}
