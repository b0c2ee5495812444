import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real etcd processes for tests: one or three members with temporary data directories, on
 * loopback ports, or inside a network namespace (listening on a lab address, so agents in
 * other namespaces reach it over veth). In the namespace case every member also serves a unix
 * socket in its data directory, and a forwarder in this process makes it reachable from here
 * on a loopback port — no link or route is ever added to the root namespace.
 */

export interface EtcdMember {
  name: string;
  /** host:port as seen from where the member runs (its namespace, or here). */
  endpoint: string;
  /** host:port reachable from this test process. */
  localEndpoint: string;
  running: boolean;
  log(): string;
}

export interface EtcdCluster {
  members: EtcdMember[];
  /** `etcd://…` for clients in the namespace (or here when there is none). */
  storeUrl: string;
  /** `etcd://…` for clients in this test process. */
  localStoreUrl: string;
  stop(member: number): Promise<void>;
  start(member: number): Promise<void>;
  close(): Promise<void>;
}

export interface EtcdOptions {
  members?: 1 | 3;
  /** Run inside this network namespace, clients listening on `address`. */
  namespace?: string;
  address?: string;
  /** Extra etcd flags, e.g. auto-compaction. */
  flags?: string[];
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export async function startEtcd(opts: EtcdOptions = {}): Promise<EtcdCluster> {
  const count = opts.members ?? 1;
  const root = await mkdtemp(join(tmpdir(), 'palisade-etcd-'));
  const inNs = opts.namespace !== undefined;
  const clientHost = inNs ? (opts.address ?? '198.18.0.1') : '127.0.0.1';
  const specs: { name: string; clientPort: number; peerPort: number; dir: string }[] = [];
  // A fresh namespace has every port free; on loopback here ask the kernel for distinct free ones.
  const ports = inNs ? [] : await freePorts(2 * count);
  for (let i = 0; i < count; i++) {
    const clientPort = inNs ? 2379 + 10 * i : ports[2 * i]!;
    const peerPort = inNs ? 2380 + 10 * i : ports[2 * i + 1]!;
    specs.push({ name: `m${i}`, clientPort, peerPort, dir: join(root, `m${i}`) });
  }
  const cluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
  const procs: (ChildProcess | null)[] = specs.map(() => null);
  const logs: string[] = specs.map(() => '');
  /** Seen "serving client traffic" since the last launch (the log keeps only its tail). */
  const ready: boolean[] = specs.map(() => false);
  const forwarders: net.Server[] = [];
  const members: EtcdMember[] = [];
  let started = false;

  const launch = async (i: number) => {
    const s = specs[i]!;
    const args = [
      '--name', s.name,
      '--data-dir', join(s.dir, 'data'),
      '--listen-client-urls', `http://${clientHost}:${s.clientPort}${inNs ? `,unix://client.sock:0` : ''}`,
      '--advertise-client-urls', `http://${clientHost}:${s.clientPort}`,
      '--listen-peer-urls', `http://127.0.0.1:${s.peerPort}`,
      '--initial-advertise-peer-urls', `http://127.0.0.1:${s.peerPort}`,
      '--initial-cluster', cluster,
      '--initial-cluster-state', started ? 'existing' : 'new',
      '--initial-cluster-token', `palisade-test-${process.pid}`,
      '--experimental-enable-lease-checkpoint',
      '--logger', 'zap', '--log-outputs', 'stderr',
      ...(opts.flags ?? []),
    ];
    await mkdir(s.dir, { recursive: true });
    // A member SIGKILLed earlier leaves its socket file behind, and etcd will not bind over it.
    if (inNs) await rm(join(s.dir, 'client.sock:0'), { force: true });
    const proc = opts.namespace ? spawn('ip', ['netns', 'exec', opts.namespace, 'etcd', ...args], { cwd: s.dir, stdio: ['ignore', 'ignore', 'pipe'] }) : spawn('etcd', args, { cwd: s.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    live.add(proc);
    procs[i] = proc;
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (/serving client traffic|ready to serve client requests/.test(d)) ready[i] = true;
      logs[i] = (logs[i]! + d).slice(-20_000);
    });
    proc.once('exit', () => {
      live.delete(proc);
      if (members[i]) members[i].running = false;
    });
  };

  const waitReady = async (i: number, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!ready[i]) {
      if (Date.now() > deadline) throw new Error(`etcd member ${specs[i]!.name} not ready within ${timeoutMs} ms:\n${logs[i]!.slice(-3000)}`);
      if (procs[i] && (procs[i]!.exitCode !== null || procs[i]!.signalCode !== null)) throw new Error(`etcd member ${specs[i]!.name} exited:\n${logs[i]!.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  try {
    for (let i = 0; i < count; i++) await launch(i);
    await Promise.all(specs.map((_, i) => waitReady(i)));
    started = true;
    for (const [i, s] of specs.entries()) {
      const localEndpoint = inNs ? await forward(join(s.dir, 'client.sock:0'), forwarders) : `127.0.0.1:${s.clientPort}`;
      members.push({ name: s.name, endpoint: `${clientHost}:${s.clientPort}`, localEndpoint, running: true, log: () => logs[i]! });
    }
  } catch (e) {
    for (const p of procs) p?.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
    throw e;
  }

  const stop = async (i: number) => {
    const p = procs[i];
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
    members[i]!.running = false;
  };
  return {
    members,
    storeUrl: `etcd://${members.map((m) => m.endpoint).join(',')}`,
    localStoreUrl: `etcd://${members.map((m) => m.localEndpoint).join(',')}`,
    stop,
    start: async (i) => {
      logs[i] = '';
      ready[i] = false;
      await launch(i);
      members[i]!.running = true;
      // A lone restarted member of a cluster without quorum is not "ready" until a peer joins.
      if (members.filter((m) => m.running).length * 2 > count) await Promise.all(members.map((m, j) => (m.running ? waitReady(j) : undefined)));
    },
    close: async () => {
      for (let i = 0; i < count; i++) await stop(i);
      for (const f of forwarders) f.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** `n` distinct free loopback ports: all held open at once, so none is handed out twice. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** A loopback port here whose connections are piped to a unix socket. */
/** Joins two sockets both ways; either ending ends both. Tracked so a cut or close can drop them. */
function splice(client: net.Socket, upstream: net.Socket, sockets: Set<net.Socket>): void {
  sockets.add(client).add(upstream);
  const end = () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
  client.on('error', end).on('close', end);
  upstream.on('error', end).on('close', end);
  client.pipe(upstream).pipe(client);
}

async function forward(socketPath: string, servers: net.Server[]): Promise<string> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    splice(client, net.connect(socketPath), sockets);
  });
  const close = server.close.bind(server);
  server.close = (cb) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

export interface TcpProxy {
  endpoint: string;
  /** Drops every connection and refuses new ones: a cut path. */
  cut(): void;
  heal(): void;
  close(): void;
}

/** A loopback TCP proxy to `target` that a test can cut and heal. */
export async function startTcpProxy(target: string): Promise<TcpProxy> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  let cut = false;
  const server = net.createServer((client) => {
    if (cut) return void client.destroy();
    splice(client, net.connect(port, host), sockets);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  return {
    endpoint: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut: () => {
      cut = true;
      dropAll();
    },
    heal: () => {
      cut = false;
    },
    close: () => {
      dropAll();
      server.close();
    },
  };
}
