import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Comment {
  id: number;
  body: string;
  html_url: string;
}

/** Just enough of GitHub's issue-comments API, on loopback, recording every request. */
export class FakeGithub {
  comments: Comment[] = [];
  requests: string[] = [];
  private next = 100;
  private server: Server | null = null;
  url = '';

  async start(token = 'secret-token'): Promise<this> {
    this.server = createServer(async (req, res) => {
      const body = await read(req);
      this.requests.push(`${req.method} ${req.url}`);
      const send = (status: number, data?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(data === undefined ? undefined : JSON.stringify(data));
      };
      if (req.headers.authorization !== `Bearer ${token}`) return send(401, { message: 'Bad credentials' });
      const list = /^\/repos\/acme\/policies\/issues\/7\/comments\?per_page=(\d+)&page=(\d+)$/.exec(req.url ?? '');
      if (req.method === 'GET' && list) {
        const [per, page] = [Number(list[1]), Number(list[2])];
        return send(200, this.comments.slice((page - 1) * per, page * per));
      }
      if (req.method === 'POST' && req.url === '/repos/acme/policies/issues/7/comments') {
        const c = { id: this.next++, body: (JSON.parse(body) as { body: string }).body, html_url: `https://github.example/acme/policies/pull/7#c${this.next}` };
        this.comments.push(c);
        return send(201, c);
      }
      const one = /^\/repos\/acme\/policies\/issues\/comments\/(\d+)$/.exec(req.url ?? '');
      const existing = one ? this.comments.find((c) => c.id === Number(one[1])) : undefined;
      if (one && !existing) return send(404, { message: 'Not Found' });
      if (req.method === 'PATCH' && existing) {
        existing.body = (JSON.parse(body) as { body: string }).body;
        return send(200, existing);
      }
      if (req.method === 'DELETE' && existing) {
        this.comments = this.comments.filter((c) => c !== existing);
        return send(204);
      }
      send(404, { message: 'Not Found' });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const read = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let data = '';
    req.on('data', (c: Buffer) => (data += c.toString()));
    req.on('end', () => resolve(data));
  });

