import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Real HTTP receivers on loopback (random ports) for notification tests. */

export interface Received {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  raw: string;
  body: Record<string, unknown>;
}

/** What the receiver answers: a status and body, or 'hang' (never answers). */
export type Answer = { status: number; body?: string } | 'hang';

export interface Receiver {
  readonly url: string;
  readonly received: Received[];
  /** Requests answered with a status < 300. */
  accepted(): Received[];
  answer: (req: Received) => Answer;
  /** Stops listening (connections are refused) until `up()`. */
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(answer: (req: Received) => Answer = () => ({ status: 200, body: 'ok' })): Promise<Receiver> {
  const hanging = new Set<http.ServerResponse>();
  let server: http.Server | null = null;
  let port = 0;
  const receiver: Receiver = {
    url: '',
    received: [],
    accepted: () => receiver.received.filter((r) => (r as Received & { status?: number }).status! < 300),
    answer,
    down: async () => {
      const s = server;
      server = null;
      if (!s) return;
      for (const res of hanging) res.destroy();
      hanging.clear();
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    up: async () => {
      const s = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let body: Record<string, unknown> = {};
          try {
            body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
          } catch {
            body = { unparsable: raw };
          }
          const entry: Received & { status?: number } = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body };
          receiver.received.push(entry);
          const a = receiver.answer(entry);
          if (a === 'hang') {
            hanging.add(res);
            return;
          }
          entry.status = a.status;
          res.writeHead(a.status, { 'content-type': a.body?.startsWith('{') ? 'application/json' : 'text/plain' });
          res.end(a.body ?? '');
        });
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      port = (s.address() as AddressInfo).port;
      (receiver as { url: string }).url = `http://127.0.0.1:${port}`;
      server = s;
    },
    close: () => receiver.down(),
  };
  await receiver.up();
  return receiver;
}

/**
 * A local fake of the GitHub REST API's commit statuses: `POST /repos/{owner}/{repo}/statuses/{sha}`
 * with a token, answering 201 like GitHub; 401 for a wrong token, 404 for anything else.
 */
export async function startFakeGithub(token: string): Promise<Receiver & { statuses(): { sha: string; repo: string; state: string; description: string; context: string; target_url?: string }[] }> {
  const r = await startReceiver((req) => {
    const m = /^\/repos\/([^/]+)\/([^/]+)\/statuses\/([0-9a-f]{40})$/.exec(req.path);
    if (req.method !== 'POST' || !m) return { status: 404, body: JSON.stringify({ message: 'Not Found' }) };
    const auth = req.headers.authorization ?? '';
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) return { status: 401, body: JSON.stringify({ message: 'Bad credentials' }) };
    const { state, context } = req.body as { state?: string; context?: string };
    if (!['pending', 'success', 'failure', 'error'].includes(String(state)) || !context) return { status: 422, body: JSON.stringify({ message: 'Validation Failed' }) };
    return { status: 201, body: JSON.stringify({ id: r.received.length, state, context }) };
  });
  return Object.assign(r, {
    statuses: () =>
      r.accepted().map((req) => {
        const m = /^\/repos\/([^/]+\/[^/]+)\/statuses\/([0-9a-f]{40})$/.exec(req.path)!;
        const b = req.body as { state: string; description: string; context: string; target_url?: string };
        return { repo: m[1]!, sha: m[2]!, state: b.state, description: b.description, context: b.context, ...(b.target_url ? { target_url: b.target_url } : {}) };
      }),
  });
}
