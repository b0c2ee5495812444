import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * Network-namespace fixtures for kernel tests. Everything lives in namespaces created here, with
 * addresses from 198.18.0.0/15 only and no default route; nothing touches the root namespace.
 */
const exec = promisify(execFile);

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let counter = 0;
const runId = `${process.pid % 100000}${Math.random().toString(36).slice(2, 5)}`;
/** A name unique to this test run; ≤ 15 characters so it also fits interface names. */
export function uniqueName(tag: string): string {
  counter += 1;
  return `${tag}${runId}${counter}`.slice(0, 15);
}

export async function sh(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  const { stdout } = await exec(cmd, args, { timeout: timeoutMs });
  return stdout;
}

const inNs = (ns: string, cmd: string, args: string[]) => sh('ip', ['netns', 'exec', ns, cmd, ...args]);

const TEST_NET = /^198\.(18|19)\.[0-9]{1,3}\.[0-9]{1,3}\/[0-9]{1,2}$/;

/** Two namespaces joined by a veth pair: `client` (cAddr) and `server` (sAddr), both /24 on 198.18.x.0. */
export interface VethPair {
  client: string;
  server: string;
  clientIf: string;
  serverIf: string;
  clientAddr: string;
  serverAddr: string;
  destroy(): Promise<void>;
}

export async function createVethPair(subnet = 0): Promise<VethPair> {
  const client = uniqueName('pc');
  const server = uniqueName('ps');
  const clientIf = uniqueName('vc');
  const serverIf = uniqueName('vs');
  const clientAddr = `198.18.${subnet}.1`;
  const serverAddr = `198.18.${subnet}.2`;
  for (const a of [clientAddr, serverAddr]) if (!TEST_NET.test(`${a}/24`)) throw new Error(`refusing test address ${a}`);
  const pair: VethPair = {
    client,
    server,
    clientIf,
    serverIf,
    clientAddr,
    serverAddr,
    destroy: async () => {
      for (const ns of [client, server]) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
    },
  };
  try {
    await sh('ip', ['netns', 'add', client]);
    await sh('ip', ['netns', 'add', server]);
    // Created inside the client namespace, so the root namespace never holds the link.
    await inNs(client, 'ip', ['link', 'add', clientIf, 'type', 'veth', 'peer', 'name', serverIf, 'netns', server]);
    await inNs(client, 'ip', ['addr', 'add', `${clientAddr}/24`, 'dev', clientIf]);
    await inNs(server, 'ip', ['addr', 'add', `${serverAddr}/24`, 'dev', serverIf]);
    for (const [ns, dev] of [[client, clientIf], [server, serverIf], [client, 'lo'], [server, 'lo']] as const) await inNs(ns, 'ip', ['link', 'set', dev, 'up']);
    // The kernel reports carrier on a new veth up to ~1 s late; packets sent before are lost.
    for (const [ns, dev] of [[client, clientIf], [server, serverIf]] as const) await waitOperUp(ns, dev);
    return pair;
  } catch (e) {
    await pair.destroy();
    throw e;
  }
}

async function waitOperUp(ns: string, dev: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await inNs(ns, 'cat', [`/sys/class/net/${dev}/operstate`]).catch(() => '');
    if (state.trim() === 'up') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${dev} in ${ns} did not come up within ${timeoutMs} ms`);
}

const SERVER_JS = `
const net = require('node:net'); const dgram = require('node:dgram');
const [proto, host, ...ports] = process.argv.slice(1);
let pending = ports.length;
const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const p of ports) {
  if (proto === 'udp') { const s = dgram.createSocket('udp4'); s.on('message', (m, r) => s.send('ok', r.port, r.address)); s.on('error', () => {}); s.bind(Number(p), host, ready); }
  else net.createServer((c) => { c.on('error', () => {}); c.end('ok'); }).listen(Number(p), host, ready);
}
setTimeout(() => process.exit(0), 120000).unref();
`;

/** TCP (or UDP echo) servers on `ports` inside `ns`; resolves once listening. */
export async function startServer(ns: string, host: string, ports: number[], proto: 'tcp' | 'udp' = 'tcp'): Promise<{ stop(): void }> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVER_JS, proto, host, ...ports.map(String)], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('test server did not start within 5 s')), 5000);
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`test server exited with ${code}`));
    });
  });
  return { stop: () => child.kill('SIGKILL') };
}

const PROBE_JS = `
const net = require('node:net'); const dgram = require('node:dgram');
const [timeout, ...targets] = process.argv.slice(1);
const one = (t) => new Promise((resolve) => {
  const [proto, host, port, sport] = t.split(',');
  const done = (ok) => { clearTimeout(timer); try { s.destroy ? s.destroy() : s.close(); } catch {} resolve(ok ? 1 : 0); };
  const timer = setTimeout(() => done(false), Number(timeout));
  let s;
  if (proto === 'udp') {
    s = dgram.createSocket('udp4'); s.on('message', () => done(true)); s.on('error', () => done(false));
    s.bind(Number(sport) || 0, () => s.send('hi', Number(port), host));
  } else {
    s = net.connect({ host, port: Number(port), localPort: Number(sport) || undefined }); s.on('connect', () => done(true)); s.on('error', () => done(false));
  }
});
(async () => { const out = []; for (const t of targets) out.push(await one(t)); process.stdout.write(out.join('')); })();
`;

export interface Probe {
  proto: 'tcp' | 'udp';
  host: string;
  port: number;
  sport?: number;
}

/**
 * Tries each probe from inside `ns` (one process for all, to keep spawn cost out of the loop);
 * true where the connect (or UDP echo) succeeded within `timeoutMs`.
 */
export async function probe(ns: string, probes: Probe[], timeoutMs = 300): Promise<boolean[]> {
  if (probes.length === 0) return [];
  const args = probes.map((p) => `${p.proto},${p.host},${p.port},${p.sport ?? 0}`);
  const out = await sh('ip', ['netns', 'exec', ns, process.execPath, '-e', PROBE_JS, String(timeoutMs), ...args], 10_000 + probes.length * timeoutMs);
  return [...out.trim()].map((c) => c === '1');
}

/** ICMP echo from `ns` to `host` (from source address `from`): one packet, bounded wait (iputils-ping takes fractions of a second). */
export async function ping(ns: string, host: string, timeoutS = 1, from?: string): Promise<boolean> {
  return inNs(ns, 'ping', ['-n', '-q', '-c', '1', '-W', String(timeoutS), ...(from ? ['-I', from] : []), host]).then(
    () => true,
    () => false,
  );
}

/** The MAC address of `dev` inside `ns`. */
export async function macOf(ns: string, dev: string): Promise<string> {
  const out = await inNs(ns, 'cat', [`/sys/class/net/${dev}/address`]);
  return out.trim();
}

/**
 * IPv6 (ULA, fd00::/8 only) on both ends of a veth pair, without duplicate address detection and
 * with permanent neighbour entries, so no neighbour discovery has to pass the policy under test.
 */
export async function addIpv6(pair: VethPair, clientAddrs: string[], serverAddr: string): Promise<void> {
  for (const a of [...clientAddrs, serverAddr]) if (!/^fd[0-9a-f]{2}:/i.test(a)) throw new Error(`refusing non-ULA test address ${a}`);
  const [clientMac, serverMac] = [await macOf(pair.client, pair.clientIf), await macOf(pair.server, pair.serverIf)];
  for (const a of clientAddrs) {
    await inNs(pair.client, 'ip', ['-6', 'addr', 'add', `${a}/64`, 'dev', pair.clientIf, 'nodad']);
    await inNs(pair.server, 'ip', ['-6', 'neigh', 'replace', a, 'lladdr', clientMac, 'dev', pair.serverIf, 'nud', 'permanent']);
  }
  await inNs(pair.server, 'ip', ['-6', 'addr', 'add', `${serverAddr}/64`, 'dev', pair.serverIf, 'nodad']);
  await inNs(pair.client, 'ip', ['-6', 'neigh', 'replace', serverAddr, 'lladdr', serverMac, 'dev', pair.clientIf, 'nud', 'permanent']);
}

/** A client and a server on two subnets, joined by a router namespace that forwards between them. */
export interface RoutedNet {
  client: string;
  router: string;
  server: string;
  /** The router's interfaces towards the client (left) and the server (right). */
  leftIf: string;
  rightIf: string;
  clientAddr: string;
  serverAddr: string;
  routerLeft: string;
  routerRight: string;
  destroy(): Promise<void>;
}

export async function createRoutedNet(left: number, right: number): Promise<RoutedNet> {
  const a = await createVethPair(left);
  const b = await createVethPair(right).catch(async (e: unknown) => {
    await a.destroy();
    throw e;
  });
  // a.server is the router's left side; b's client namespace is folded into it.
  const net: RoutedNet = {
    client: a.client,
    router: a.server,
    server: b.server,
    leftIf: a.serverIf,
    rightIf: b.clientIf,
    clientAddr: a.clientAddr,
    serverAddr: b.serverAddr,
    routerLeft: a.serverAddr,
    routerRight: `198.18.${right}.254`,
    destroy: async () => {
      await a.destroy();
      await b.destroy();
    },
  };
  try {
    // Move b's router-side end into a's server namespace (between two named namespaces; never the root).
    await inNs(b.client, 'ip', ['link', 'set', b.clientIf, 'netns', a.server]);
    await inNs(a.server, 'ip', ['addr', 'add', `${net.routerRight}/24`, 'dev', b.clientIf]);
    await inNs(a.server, 'ip', ['link', 'set', b.clientIf, 'up']);
    await waitOperUp(a.server, b.clientIf);
    await inNs(a.server, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await inNs(a.client, 'ip', ['route', 'add', `198.18.${right}.0/24`, 'via', a.serverAddr]);
    await inNs(b.server, 'ip', ['route', 'add', `198.18.${left}.0/24`, 'via', net.routerRight]);
    return net;
  } catch (e) {
    await net.destroy();
    throw e;
  }
}
