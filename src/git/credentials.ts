import { readFileSync } from 'node:fs';
import type { GitCredentials } from './source.js';

/** The URL without userinfo: the only form that may be logged or stored. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/**
 * Credentials for a remote, first match wins: explicit option, userinfo in the URL, environment
 * (`PALISADE_GIT_USERNAME` + `PALISADE_GIT_PASSWORD` or `PALISADE_GIT_TOKEN`), a file.
 * A bare token is sent as the password with username `x-access-token`, which GitHub, GitLab
 * and Gitea all accept.
 */
export function resolveCredentials(
  url: string,
  opts: { credentials?: GitCredentials; credentialsFile?: string },
  env: NodeJS.ProcessEnv = process.env,
): GitCredentials | undefined {
  if (opts.credentials) return opts.credentials;
  const u = new URL(url);
  if (u.username || u.password) return { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
  const secret = env.PALISADE_GIT_PASSWORD ?? env.PALISADE_GIT_TOKEN;
  if (secret) return { username: env.PALISADE_GIT_USERNAME ?? 'x-access-token', password: secret };
  if (opts.credentialsFile) return parseCredentialsFile(readFileSync(opts.credentialsFile, 'utf8'));
  return undefined;
}

export function parseCredentialsFile(text: string): GitCredentials {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const j = JSON.parse(trimmed) as { username?: unknown; password?: unknown; token?: unknown };
    const password = typeof j.password === 'string' ? j.password : typeof j.token === 'string' ? j.token : '';
    return { username: typeof j.username === 'string' ? j.username : 'x-access-token', password };
  }
  const colon = trimmed.indexOf(':');
  return colon === -1 ? { username: 'x-access-token', password: trimmed } : { username: trimmed.slice(0, colon), password: trimmed.slice(colon + 1) };
}
