import type { IncomingMessage, ServerResponse } from 'node:http';
import type { PalisadeEvent } from '../eventlog/events.js';
import type { StatusSource } from '../status/model.js';
import { findRevision, revisionView, statusView } from '../status/view.js';
import { rolloutPage } from './page.js';

/** A client that falls this far behind is cut off; it resumes with Last-Event-ID. */
const MAX_BUFFERED = 1 << 20;
const KEEPALIVE_MS = 15_000;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

const notFound = (res: ServerResponse, code: string, message: string) => json(res, 404, { error: { code, message } });

/** GET /, /api/v1/status, /api/v1/revisions/{revision}, /api/v1/events. False when the path is not one of them. */
export async function statusRoutes(req: IncomingMessage, res: ServerResponse, url: URL, source: StatusSource): Promise<boolean> {
  const path = url.pathname;
  const known = path === '/' || path === '/api/v1/status' || path === '/api/v1/events' || path.startsWith('/api/v1/revisions/');
  if (!known) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('method not allowed: the status API and the page are read-only\n');
    return true;
  }
  if (path === '/') {
    const page = rolloutPage();
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': page.csp, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
    res.end(page.html);
  } else if (path === '/api/v1/status') json(res, 200, statusView(source.model(), Date.now()));
  else if (path === '/api/v1/events') await eventStream(req, res, url, source);
  else {
    const id = decodeURIComponent(path.slice('/api/v1/revisions/'.length));
    if (!/^[0-9a-f]{4,64}$/i.test(id)) notFound(res, 'BAD_REVISION', `'${id}' is not a revision id (4 to 64 hex digits)`);
    else {
      const r = findRevision(source.model(), id);
      if (r) json(res, 200, revisionView(r));
      else notFound(res, 'NO_SUCH_REVISION', `no revision ${id} in the event log (or the prefix is ambiguous)`);
    }
  }
  return true;
}

/**
 * Server-Sent Events: every event of the log after `Last-Event-ID` (or `?since=`; by default
 * only what comes next), each with `id:` its sequence number, so a reconnecting client (the
 * browser's EventSource does it by itself) resumes exactly where it stopped.
 */
async function eventStream(req: IncomingMessage, res: ServerResponse, url: URL, source: StatusSource): Promise<void> {
  const from = req.headers['last-event-id'] ?? url.searchParams.get('since');
  const since = from === null || from === undefined ? source.model().lastSeq : Number(from);
  if (!Number.isInteger(since) || since < 0) return json(res, 400, { error: { code: 'BAD_SINCE', message: `Last-Event-ID / since must be a sequence number, got '${String(from)}'` } });
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
  res.write('retry: 2000\n\n');
  let last = since;
  let live = false;
  const early: PalisadeEvent[] = [];
  const send = (events: readonly PalisadeEvent[]) => {
    for (const e of events) {
      if (e.seq <= last) continue;
      res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
      last = e.seq;
    }
    if (res.writableLength > MAX_BUFFERED) res.destroy();
  };
  // Subscribed before the backlog is read, so nothing falls between the two.
  const unsubscribe = source.subscribe((events) => (live ? send(events) : early.push(...events)));
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  try {
    send(await source.read(since));
    send(early);
    live = true;
    await closed;
  } finally {
    clearInterval(keepalive);
    unsubscribe();
  }
}
