import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../src/http/server.js';
import { createMetrics } from '../../src/metrics.js';
import { RevisionView, StatusView, statusApiJsonSchema } from '../../src/status/schema.js';
import { GOOD_FILES, LOCKOUT_FILES, statusFleet, type StatusFleet } from '../support/status-fleet.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function serve(opts: { controlToken?: string } = {}) {
  const fleet: StatusFleet = await statusFleet(await tmp('palisade-status-api-'));
  cleanup.push(() => fleet.close());
  const reconciler = fleet.reconciler();
  await reconciler.load();
  const server: RunningHttpServer = await startHttpServer({
    port: 0,
    onGitHook: () => undefined,
    ready: () => ({ ready: true }),
    registry: createMetrics({ processMetrics: false }).registry,
    status: reconciler.statusSource,
    ...opts,
  });
  cleanup.push(() => server.close());
  return { fleet, reconciler, server };
}

/** Reads an SSE response until `count` events arrived (bounded by a deadline). */
async function sse(url: string, headers: Record<string, string>, count: number): Promise<{ id: number; type: string; data: { seq: number; type: string } }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  const res = await fetch(url, { headers, signal: ac.signal });
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: { id: number; type: string; data: { seq: number; type: string } }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body!) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const field = (name: string) => block.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
        if (field('id')) events.push({ id: Number(field('id')), type: field('event')!, data: JSON.parse(field('data')!) });
      }
      if (events.length >= count) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

describe('status API', () => {
  it('GET /api/v1/status and /api/v1/revisions/{revision} answer from the model, in the documented schema', async () => {
    const { fleet, reconciler, server } = await serve();
    const good = await fleet.repo.commit(GOOD_FILES(), 'good');
    await reconciler.reconcile();
    const bad = await fleet.repo.commit(LOCKOUT_FILES, 'lockout: cut ssh');
    await reconciler.reconcile();

    const res = await fetch(`${server.url}/api/v1/status`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const status = StatusView.parse(await res.json());
    expect(status.lastSeq).toBe(await fleet.store.head());
    expect(status.current).toMatchObject({ revision: bad, phase: 'halted', message: 'lockout: cut ssh' });
    expect(status.current!.failing).toEqual([{ host: 'node-a', state: 'rolledBack', reason: expect.stringMatching(/^checks failed after apply: ssh-from-management/), checks: [expect.objectContaining({ name: 'ssh-from-management' })] }]);
    expect(status.revisions.map((r) => [r.revision, r.phase])).toEqual([
      [bad, 'halted'],
      [good, 'completed'],
    ]);
    expect(status.hosts.find((h) => h.name === 'node-a')!.conditions.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'RolledBack' });

    const byPrefix = RevisionView.parse(await (await fetch(`${server.url}/api/v1/revisions/${good.slice(0, 10)}`)).json());
    expect(byPrefix).toMatchObject({ revision: good, phase: 'completed', failing: [] });
    expect(byPrefix.waves.map((w) => [w.name, w.state, w.hosts.map((h) => h.state).join(',')])).toEqual([
      ['canary', 'done', 'confirmed'],
      ['rest', 'done', 'confirmed,confirmed'],
    ]);
    const missing = await fetch(`${server.url}/api/v1/revisions/deadbeef`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NO_SUCH_REVISION' } });
    expect((await fetch(`${server.url}/api/v1/revisions/not-hex`)).status).toBe(404);
    expect((await fetch(`${server.url}/api/v1/status`, { method: 'POST' })).status).toBe(405);
  });

  it('docs/status-api.schema.json is the schema the answers are checked against', async () => {
    const documented = JSON.parse(await readFile(new URL('../../docs/status-api.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(documented).toEqual(statusApiJsonSchema());
  });

  it('GET /api/v1/events streams the log as SSE with id = seq, resumes after Last-Event-ID, and carries new events live', async () => {
    const { fleet, reconciler, server } = await serve();
    await fleet.repo.commit(GOOD_FILES(), 'good');
    await reconciler.reconcile();
    const log = await fleet.store.read();
    const from = 5;
    const resumed = await sse(`${server.url}/api/v1/events`, { 'Last-Event-ID': String(from) }, log.length - from);
    expect(resumed.map((e) => e.id)).toEqual(log.slice(from).map((e) => e.seq));
    expect(resumed.every((e) => e.data.seq === e.id && e.data.type === e.type)).toBe(true);

    // Without Last-Event-ID: only what comes next — here the lockout's events, as they are appended.
    const next = sse(`${server.url}/api/v1/events`, {}, 3);
    await new Promise((r) => setTimeout(r, 200));
    await fleet.repo.commit(LOCKOUT_FILES, 'lockout');
    await reconciler.reconcile();
    const live = await next;
    expect(live.slice(0, 3).map((e) => e.id)).toEqual([log.length + 1, log.length + 2, log.length + 3]);
    expect(live[0]!.type).toBe('CommitObserved');
    expect((await fetch(`${server.url}/api/v1/events?since=x`)).status).toBe(400);
  });

  it('with a control token, the page and the API need it — from loopback too; ?token= sets a cookie', async () => {
    const { server } = await serve({ controlToken: 's3cret-token' });
    for (const path of ['/', '/api/v1/status', '/api/v1/events', '/api/v1/revisions/abcd']) {
      expect((await fetch(`${server.url}${path}`)).status, path).toBe(401);
      expect((await fetch(`${server.url}${path}`, { headers: { authorization: 'Bearer wrong' } })).status, path).toBe(401);
    }
    expect((await fetch(`${server.url}/api/v1/status`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    const login = await fetch(`${server.url}/?token=s3cret-token`, { redirect: 'manual' });
    expect(login.status).toBe(303);
    expect(login.headers.get('location')).toBe('/');
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^palisade_token=s3cret-token; HttpOnly; SameSite=Strict; Path=\//);
    const page = await fetch(`${server.url}/`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect((await fetch(`${server.url}/?token=nope`, { redirect: 'manual' })).status).toBe(401);
    // The control token still governs control; /metrics and health stay as they were.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('the page has no external asset: everything inline, and the CSP allows nothing else', async () => {
    const { server } = await serve();
    const res = await fetch(`${server.url}/`);
    const html = await res.text();
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect(html).not.toMatch(/<link|<img|@import|url\(/);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/^default-src 'none'; style-src 'sha256-[^']+'; script-src 'sha256-[^']+'; connect-src 'self'/);
  });
});
