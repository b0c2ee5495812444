import { spawn } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { probe } from '../../src/checks/probes/probe.js';
import { NetnsHost } from '../../src/hosts/netns-host.js';
import { labDown, labUp, type LabDescription } from '../../src/lab/lab.js';
import { isRoot, sh } from '../support/netns.js';

/**
 * Every check kind against the lab service in real namespaces: from the management namespace
 * (controller vantage), from inside a host (host vantage), and through an nft deny.
 */
const check = (spec: Record<string, unknown>) => CheckSpec.parse({ name: `${String(spec['kind'])}-check`, ...spec });
const EVERY_KIND = [{ kind: 'tcp', port: 8080 }, { kind: 'ssh' }, { kind: 'dns' }, { kind: 'dns', query: 'example.org' }, { kind: 'icmp' }, { kind: 'http' }, { kind: 'http', path: '/nowhere', status: 404 }];

/** Loads an nft ruleset inside `namespace` only (`nft -f -` through ip netns exec). */
function nftIn(namespace: string, ruleset: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', namespace, 'nft', '-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nft -f in ${namespace} failed (${code}): ${stderr}`))));
    child.stdin.end(ruleset);
  });
}

const DENY_TABLE = 'pal_checks_deny';
const DENY = `
table inet ${DENY_TABLE} {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 8080 drop
    udp dport 53 drop
    icmp type echo-request drop
  }
}
`;

describe.skipIf(!isRoot)('checks against lab namespaces (real kernel, real sockets)', () => {
  let lab: LabDescription | undefined;
  let a: NetnsHost;
  let b: NetnsHost;

  beforeAll(async () => {
    lab = await labUp(['a', 'b']);
    const [ha, hb] = lab.hosts;
    a = new NetnsHost('a', ha!.namespace, ha!.address, lab.management.namespace);
    b = new NetnsHost('b', hb!.namespace, hb!.address, lab.management.namespace);
    // A fresh veth reports carrier up to ~1 s late; wait (bounded) until both hosts answer.
    for (const host of [a, b]) {
      let up = false;
      for (let i = 0; i < 20 && !up; i++) up = (await host.check(check({ kind: 'tcp', port: 22, timeoutMs: 500 }))).ok;
      if (!up) throw new Error(`lab host ${host.name} never answered on tcp/22`);
    }
  });

  afterAll(async () => {
    if (lab) await labDown(lab);
  });

  it.each(EVERY_KIND)('controller vantage reaches the host by default: %o', async (spec) => {
    const outcome = await a.check(check(spec));
    expect(outcome.detail).toContain(`from management to a (${a.address})`);
    expect(outcome.ok, outcome.detail).toBe(true);
  });

  it.each(EVERY_KIND)('host vantage reaches another host from inside: %o', async (spec) => {
    const outcome = await a.check(check({ ...spec, vantage: 'host', target: b.address }));
    expect(outcome.detail).toContain(`from a to ${b.address}`);
    expect(outcome.ok, outcome.detail).toBe(true);
  });

  it('a host-vantage check without a target fails and says why', async () => {
    expect(await a.check(check({ kind: 'tcp', port: 22, vantage: 'host' }))).toMatchObject({ ok: false, detail: 'a host-vantage check needs a target address' });
  });

  it('each kind tells a service that is not there from one that is', async () => {
    const wrong = [
      { kind: 'tcp', port: 9999 },
      { kind: 'ssh', port: 80, timeoutMs: 500 },
      { kind: 'dns', port: 5353 },
      { kind: 'icmp', target: '198.18.0.250', timeoutMs: 500 },
      { kind: 'http', path: '/nowhere' },
      { kind: 'http', port: 22 },
    ];
    for (const spec of wrong) {
      const open = await a.check(check(spec));
      expect(open.ok, open.detail).toBe(false);
      expect((await a.check(check({ ...spec, expect: 'closed' }))).ok, open.detail).toBe(true);
    }
  });

  it('proves a deny works: closed passes and open fails while an nft table drops the ports, not before or after', async () => {
    const denied = [{ kind: 'tcp', port: 8080 }, { kind: 'http', port: 8080 }, { kind: 'dns' }, { kind: 'icmp' }].map((s) => ({ ...s, timeoutMs: 500 }));
    const vantages = [
      { host: b, extra: {} },
      { host: a, extra: { vantage: 'host', target: b.address } },
    ];
    for (const spec of denied) expect((await b.check(check({ ...spec, expect: 'closed' }))).ok, `${spec.kind} before the deny`).toBe(false);
    await nftIn(b.namespace, DENY);
    try {
      // Dropped packets only ever time out, so the checks run side by side.
      const runs = vantages.flatMap(({ host, extra }) =>
        denied.map(async (spec) => ({
          closed: await host.check(check({ ...spec, ...extra, expect: 'closed' })),
          open: await host.check(check({ ...spec, ...extra })),
        })),
      );
      for (const { closed, open } of await Promise.all(runs)) {
        expect(closed.ok, closed.detail).toBe(true);
        expect(open.ok, open.detail).toBe(false);
        expect(open.detail).toMatch(/closed \(/);
      }
      for (const { host, extra } of vantages) expect((await host.check(check({ kind: 'ssh', ...extra }))).ok, 'ssh is not in the deny').toBe(true);
    } finally {
      await nftIn(b.namespace, `delete table inet ${DENY_TABLE}\n`);
    }
    for (const spec of denied) expect((await b.check(check(spec))).ok, `${spec.kind} after the deny`).toBe(true);
  });

  it('a probe is bounded by its timeout and leaves no process behind', async () => {
    const t0 = Date.now();
    // Port 80 is an HTTP server: it accepts and then waits for a request, so no banner ever comes.
    const outcome = await a.check(check({ kind: 'ssh', port: 80, timeoutMs: 300 }));
    expect(outcome).toMatchObject({ ok: false, detail: expect.stringContaining('no SSH banner within 300 ms') });
    // Bounded by the timeout plus the fixed allowance for process start-up, not a performance figure.
    expect(Date.now() - t0).toBeLessThan(300 + 5000);
    const pids = await sh('ip', ['netns', 'pids', lab!.management.namespace]);
    expect(pids.trim()).toBe('');
  });

  it('a probe that cannot run fails even a check expecting closed', async () => {
    const ghost = new NetnsHost('ghost', a.namespace, a.address, `pal-${lab!.id}-no-such-namespace`);
    const outcome = await ghost.check(check({ kind: 'tcp', port: 9999, expect: 'closed' }));
    expect(outcome).toMatchObject({ ok: false, detail: expect.stringContaining('could not probe (PROBE_NAMESPACE_UNAVAILABLE') });
  });
});

describe.skipIf(!isRoot)('checks from this process namespace (loopback only)', () => {
  it('tcp, http and icmp run from here when no namespace is given', async () => {
    const server = createHttpServer((req, res) => {
      res.statusCode = req.url === '/' ? 204 : 404;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      expect(await probe(check({ kind: 'tcp', port }), '127.0.0.1', {})).toMatchObject({ open: true });
      expect(await probe(check({ kind: 'http', port, status: 204 }), '127.0.0.1', {})).toMatchObject({ open: true });
      expect(await probe(check({ kind: 'http', port }), '127.0.0.1', {})).toMatchObject({ open: false, error: 'answered 204, expected 200' });
      expect(await probe(check({ kind: 'icmp' }), '127.0.0.1', {})).toMatchObject({ open: true });
    } finally {
      server.close();
    }
    expect(await probe(check({ kind: 'tcp', port: 1 }), '127.0.0.1', {})).toMatchObject({ open: false, error: 'ECONNREFUSED' });
  });
});
