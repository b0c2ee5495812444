import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import { signBody, verifySignature } from '../../src/http/signature.js';
import { MAX_BODY, startHttpServer, type HttpServerOptions, type Readiness, type RunningHttpServer } from '../../src/http/server.js';
import { runRollout } from '../../src/cli/rollout.js';
import { createMetrics } from '../../src/metrics.js';
import { foldStatus } from '../../src/status/model.js';
import { commitDraft } from '../support/events.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();
const running: RunningHttpServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(opts: { webhookSecret?: string; ready?: () => Readiness; controlToken?: string; onControl?: HttpServerOptions['onControl'] } = {}) {
  const metrics = createMetrics({ processMetrics: false });
  let hooks = 0;
  const server = await startHttpServer({
    port: 0,
    onGitHook: () => hooks++,
    ready: opts.ready ?? (() => ({ ready: true })),
    registry: metrics.registry,
    ...(opts.webhookSecret ? { webhookSecret: opts.webhookSecret } : {}),
    ...(opts.controlToken ? { controlToken: opts.controlToken } : {}),
    ...(opts.onControl ? { onControl: opts.onControl } : {}),
  });
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

  it('answers health and readiness, with the reason when not ready', async () => {
    let ready = false;
    const { server } = await start({ ready: () => (ready ? { ready: true } : { ready: false, reason: 'the event log cannot be written' }) });
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${server.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe('not ready: the event log cannot be written\n');
    ready = true;
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
  });

  it('exposes the metrics, read from the status model of the event log', async () => {
    const { server, metrics } = await start();
    const store = await openFileEventStore(await tmp());
    const events: Awaited<ReturnType<typeof store.read>> = [];
    metrics.readModel(() => foldStatus(events), () => store.sizeBytes());
    events.push(...(await store.append([commitDraft(1), commitDraft(2)])));
    const hop = (host: string, from: string, to: string) => ({ type: 'HostTransition' as const, revision: 'c2', key: `c2:${host}:${from}->${to}`, host, wave: 0, from, to });
    events.push(...(await store.append([hop('a', 'queued', 'preflight'), hop('b', 'queued', 'preflight'), hop('a', 'preflight', 'applying'), hop('a', 'applying', 'verifying')])));
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

  it('refuses a webhook whose declared length passes the limit without reading the body', async () => {
    const { server, hooks } = await start();
    // Headers only: the 200 MiB it announces are never sent, so only an early refusal answers.
    const answer = await rawRequest(server.port, `POST /hooks/git HTTP/1.1\r\nHost: x\r\nContent-Length: ${200 << 20}\r\n\r\n`, []);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(hooks()).toBe(0);
  });

  it('refuses a streamed webhook as soon as the bytes received pass the limit', async () => {
    const { server, hooks } = await start();
    const chunk = Buffer.alloc(256 << 10, 'x');
    const chunks = Array.from({ length: Math.ceil(MAX_BODY / chunk.length) + 2 }, () => Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    // Chunked, and the terminating chunk is never sent: the body has no end to wait for.
    const answer = await rawRequest(server.port, 'POST /hooks/git HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', chunks);
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(hooks()).toBe(0);
  });

  it('with a control token, requires it from loopback too; the CLI sends PALISADE_CONTROL_TOKEN', async () => {
    const asked: string[] = [];
    const { server } = await start({
      controlToken: 'sesame',
      onControl: async (action, by) => {
        asked.push(`${action} by ${by}`);
        return { status: 202, message: `${action} accepted` };
      },
    });
    expect((await fetch(`${server.url}/rollout/pause`, { method: 'POST' })).status).toBe(403);
    expect((await fetch(`${server.url}/rollout/pause`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status).toBe(403);
    expect(asked).toEqual([]);
    const io = () => {
      const out: string[] = [];
      return { out, io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => out.push(s) } } as unknown as Parameters<typeof runRollout>[1] };
    };
    const saved = process.env.PALISADE_CONTROL_TOKEN;
    try {
      delete process.env.PALISADE_CONTROL_TOKEN;
      const refused = io();
      expect(await runRollout(['pause', '--url', server.url], refused.io)).toBe(1);
      expect(refused.out.join('')).toMatch(/forbidden: .*control token/);
      process.env.PALISADE_CONTROL_TOKEN = 'sesame';
      const accepted = io();
      expect(await runRollout(['pause', '--url', server.url], accepted.io)).toBe(0);
      expect(accepted.out.join('')).toContain('pause accepted');
    } finally {
      if (saved === undefined) delete process.env.PALISADE_CONTROL_TOKEN;
      else process.env.PALISADE_CONTROL_TOKEN = saved;
    }
    expect(asked).toHaveLength(1);
  });

  it('without a control token, accepts control from loopback only', async () => {
    const { server } = await start({ onControl: async (action) => ({ status: 202, message: `${action} accepted` }) });
    expect((await fetch(`${server.url}/rollout/resume`, { method: 'POST' })).status).toBe(202);
  });
});

/** Writes `head`, then `chunks` (stopping once an answer arrives), and returns the answer's first line; fails after 5 s. */
function rawRequest(port: number, head: string, chunks: Buffer[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within 5 s (got ${JSON.stringify(answer)})`));
    }, 5000);
    socket.on('data', (d: Buffer) => {
      answer += String(d);
      if (answer.includes('\r\n')) {
        clearTimeout(timer);
        socket.destroy();
        resolve(answer.split('\r\n')[0]!);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      if (answer) resolve(answer.split('\r\n')[0]!);
      else reject(e);
    });
    socket.write(head);
    const next = (i: number) => {
      if (i >= chunks.length || socket.destroyed) return;
      socket.write(chunks[i]!, () => setTimeout(() => next(i + 1), 20));
    };
    next(0);
  });
}
