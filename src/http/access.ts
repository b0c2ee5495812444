import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Who may read the status API, the event stream and the rollout page. The control token wins:
 * when one is set, every read needs it — from loopback too — as `Authorization: Bearer <token>`
 * or the `palisade_token` cookie, which `?token=<token>` on any of these paths sets (then
 * redirects to the same URL without it, so the token does not stay in the address bar or the
 * history). Without a token they are served to whoever reaches the bound address, like /metrics.
 */

export const TOKEN_COOKIE = 'palisade_token';

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h) : null;
  return m?.[1];
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return decodeURIComponent(part.slice(i + 1).trim());
  }
  return undefined;
}

/**
 * True when the request may go on. Otherwise the response is already sent: a redirect that sets
 * the cookie for a good `?token=`, or 401.
 */
export function readAccess(req: IncomingMessage, res: ServerResponse, url: URL, token: string | undefined): boolean {
  if (!token) return true;
  const offered = url.searchParams.get('token');
  if (offered !== null && safeEqual(offered, token)) {
    url.searchParams.delete('token');
    res.writeHead(303, {
      Location: `${url.pathname}${url.search}`,
      'Set-Cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
      'Cache-Control': 'no-store',
    });
    res.end();
    return false;
  }
  const presented = bearerToken(req) ?? cookie(req, TOKEN_COOKIE);
  if (presented !== undefined && offered === null && safeEqual(presented, token)) return true;
  res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8', 'WWW-Authenticate': 'Bearer realm="palisade"' });
  res.end('unauthorized: this reconciler has a control token; send Authorization: Bearer <token>, or open the page once as /?token=<token>\n');
  return false;
}
