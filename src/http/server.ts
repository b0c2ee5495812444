import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { ControlAction } from '../eventlog/events.js';
import { bearerToken, readAccess, safeEqual } from './access.js';
import { verifySignature } from './signature.js';
import type { StatusSource } from '../status/model.js';
import { statusRoutes } from './status-api.js';

export interface HttpServerOptions {
  /** Default 127.0.0.1: the webhook and metrics are not meant for the world unless the operator says so. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** When set, `POST /hooks/git` requires a valid `X-Hub-Signature-256`. */
  webhookSecret?: string;
  /** Called for every accepted webhook: poll the repository now. */
  onGitHook: () => void;
  /** `/readyz`: 200 when ready, else 503 with the reason (e.g. the event log cannot be written). */
  ready: () => Readiness;
  registry: Registry;
  logger?: Logger;
  /** `POST /rollout/<action>`: operator control of the running rollout. */
  onControl?: (action: ControlAction, by: string) => Promise<{ status: number; message: string }>;
  /**
   * When set, every control request needs `Authorization: Bearer <token>`, from loopback too
   * (the token wins). Without it, control is only accepted from loopback clients.
   */
  controlToken?: string;
  /** The status API, the event stream and the rollout page (`GET /`); behind `controlToken` when it is set. */
  status?: StatusSource;
}

export type Readiness = { ready: true } | { ready: false; reason: string };

export const CONTROL_ACTIONS: readonly ControlAction[] = ControlAction.options;

export interface RunningHttpServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Webhook bodies (a push event) are a few KiB; anything near this is refused unread. */
export const MAX_BODY = 1 << 20;

/** The reconciler's HTTP face: Git webhook, health, readiness, Prometheus metrics. */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const host = opts.host ?? '127.0.0.1';
  if (!opts.webhookSecret) opts.logger?.warn('http: no webhook secret set; POST /hooks/git accepts unsigned requests (it can only trigger a poll)');
  const server = createServer((req, res) => {
    route(req, res, opts).catch((e: unknown) => {
      opts.logger?.error({ err: e, path: req.url }, 'http: request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  opts.logger?.info({ url }, 'http: listening');
  return {
    url,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function route(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  switch (path) {
    case '/healthz':
      return send(res, 200, 'ok\n');
    case '/readyz': {
      const r = opts.ready();
      return r.ready ? send(res, 200, 'ready\n') : send(res, 503, `not ready: ${r.reason}\n`);
    }
    case '/metrics':
      res.writeHead(200, { 'Content-Type': opts.registry.contentType });
      res.end(await opts.registry.metrics());
      return;
    case '/hooks/git':
      return gitHook(req, res, opts);
    default: {
      const control = /^\/rollout\/(\w+)$/.exec(path);
      if (control && opts.onControl) return rolloutControl(req, res, control[1]!, opts);
      if (opts.status && (path === '/' || path.startsWith('/api/'))) {
        if (!readAccess(req, res, url, opts.controlToken)) return;
        if (await statusRoutes(req, res, url, opts.status)) return;
      }
      return send(res, 404, 'not found\n');
    }
  }
}

async function rolloutControl(req: IncomingMessage, res: ServerResponse, action: string, opts: HttpServerOptions): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return send(res, 405, 'method not allowed\n');
  }
  if (!(CONTROL_ACTIONS as readonly string[]).includes(action)) return send(res, 404, `unknown action '${action}' (one of: ${CONTROL_ACTIONS.join(', ')})\n`);
  const auth = authorizeControl(req, opts.controlToken);
  if (!auth.ok) {
    opts.logger?.warn({ remote: auth.remote, action }, `http: rollout control refused (${auth.why})`);
    return send(res, 403, `forbidden: ${auth.why}\n`);
  }
  const by = header(req, 'x-palisade-user') ?? auth.remote;
  const result = await opts.onControl!(action as ControlAction, by);
  send(res, result.status, `${result.message}\n`);
}

/**
 * The one check for operator requests (rollout control, and any other endpoint that changes or
 * reveals operator state). With a control token configured the token wins: every client needs
 * it, loopback included, so a local process without it cannot steer a rollout. Without one,
 * only loopback clients are accepted.
 */
export function authorizeControl(req: IncomingMessage, controlToken: string | undefined): { ok: true; remote: string } | { ok: false; remote: string; why: string } {
  const remote = req.socket.remoteAddress ?? 'unknown';
  if (controlToken) {
    const token = bearerToken(req);
    return token !== undefined && safeEqual(token, controlToken) ? { ok: true, remote } : { ok: false, remote, why: 'this reconciler requires the control token (Authorization: Bearer $PALISADE_CONTROL_TOKEN), from loopback too' };
  }
  return /^(127\.|::1$|::ffff:127\.)/.test(remote) ? { ok: true, remote } : { ok: false, remote, why: 'rollout control is accepted from loopback clients only unless PALISADE_CONTROL_TOKEN is set' };
}

async function gitHook(req: IncomingMessage, res: ServerResponse, opts: HttpServerOptions): Promise<void> {
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return send(res, 405, 'method not allowed\n');
  }
  const body = await readBody(req);
  if (body === null) {
    // Refused before the body is read: close the connection rather than drain what is left.
    res.setHeader('Connection', 'close');
    send(res, 413, 'payload too large\n');
    res.once('finish', () => req.destroy());
    return;
  }
  if (opts.webhookSecret && !verifySignature(opts.webhookSecret, body, header(req, 'x-hub-signature-256'))) {
    opts.logger?.warn({ remote: req.socket.remoteAddress }, 'http: webhook with a missing or wrong signature rejected');
    return send(res, 401, 'bad signature\n');
  }
  opts.logger?.info({ event: header(req, 'x-github-event') ?? header(req, 'x-gitea-event') }, 'http: webhook received, polling now');
  opts.onGitHook();
  send(res, 202, 'poll scheduled\n');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The body, or null as soon as its declared length or the bytes received pass the limit: a huge
 * body is never read (nor buffered) to the end just to be refused.
 */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY) {
    req.pause();
    return Promise.resolve(null);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.off('data', onData);
        req.pause();
        resolve(null);
      } else chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(body);
}
