import { afterEach, describe, expect, it } from 'vitest';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { signBody, verifySignature } from '../../src/http/signature.js';
import { startHttpServer, type RunningHttpServer } from '../../src/http/server.js';
import { createMetrics, eventLogObserver } from '../../src/metrics.js';
import { commitDraft } from '../support/events.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const running: RunningHttpServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: { webhookSecret?: string; ready?: () => boolean } = {}) {
  const metrics = createMetrics({ processMetrics: false });
  let hooks = 0;
  const server = await startHttpServer({ port: 0, onGitHook: () => hooks++, ready: opts.ready ?? (() => true), registry: metrics.registry, webhookSecret: opts.webhookSecret });
  running.push(server);
  return { server, metrics, hooks: () => hooks };
}

describe('signature', () => {
  it('accepts exactly the HMAC of the body under the secret', () => {
    const body = Buffer.from('{"ref":"refs/heads/main"}');
    expect(verifySignature('s', body, signBody('s', body))).toBe(true);
    expect(verifySignature('s', body, signBody('t', body))).toBe(false);
    expect(verifySignature('s', Buffer.from('{}'), signBody('s', body))).toBe(false);
    expect(verifySignature('s', body, undefined)).toBe(false);
    expect(verifySignature('s', body, 'sha256=short')).toBe(false);
  });
});

describe('http server', () => {
  it('binds to loopback by default', async () => {
    const { server } = await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('triggers a poll for a correctly signed webhook only', async () => {
    const { server, hooks } = await start({ webhookSecret: 'hook-secret' });
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    const post = (signature?: string) =>
      fetch(`${server.url}/hooks/git`, { method: 'POST', body, headers: signature ? { 'X-Hub-Signature-256': signature, 'X-GitHub-Event': 'push' } : {} });
    expect((await post()).status).toBe(401);
    expect((await post(signBody('other', body))).status).toBe(401);
    expect(hooks()).toBe(0);
    expect((await post(signBody('hook-secret', body))).status).toBe(202);
    expect(hooks()).toBe(1);
    expect((await fetch(`${server.url}/hooks/git`)).status).toBe(405);
    const huge = await fetch(`${server.url}/hooks/git`, { method: 'POST', body: 'x'.repeat(2 << 20) });
    expect(huge.status).toBe(413);
    expect(hooks()).toBe(1);
  });

  it('answers health and readiness', async () => {
    let ready = false;
    const { server } = await start({ ready: () => ready });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('exposes the metrics, kept current by the event log', async () => {
    const { server, metrics } = await start();
    const store = await openFileEventStore(await tmp(), { onAppended: eventLogObserver(metrics) });
    await store.append([commitDraft(1), commitDraft(2)]);
    const hop = (host: string, from: string, to: string) => ({ type: 'HostTransition' as const, revision: 'c2', key: `c2:${host}:${from}->${to}`, host, wave: 0, from, to });
    await store.append([hop('a', 'queued', 'preflight'), hop('b', 'queued', 'preflight'), hop('a', 'preflight', 'applying'), hop('a', 'applying', 'verifying')]);
    metrics.diffDuration.observe(0.004);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('palisade_events_appended_total{type="CommitObserved"} 2');
    expect(text).toContain('palisade_commits_seen_total 2');
    expect(text).toContain('palisade_hosts{state="verifying"} 1');
    expect(text).toContain('palisade_hosts{state="preflight"} 1');
    expect(text).toContain('palisade_hosts{state="applying"} 0');
    expect(text).toContain('palisade_apply_duration_seconds_count{outcome="applied"} 1');
    expect(text).toMatch(/palisade_eventlog_size_bytes [1-9]\d*/);
    expect(text).toContain('palisade_git_diff_duration_seconds_count 1');
    for (const name of ['palisade_reconcile_duration_seconds', 'palisade_apply_duration_seconds', 'palisade_check_duration_seconds']) expect(text).toContain(`# TYPE ${name} histogram`);
    await store.close();
  });
});
