import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll } from 'vitest';
import { createVethPair, sh, type VethPair } from './netns.js';

/**
 * A long-lived node process inside a namespace: it listens on TCP and UDP (echo) ports and, on
 * request, tries a batch of connections in parallel. One spawn per test file instead of one per
 * probe keeps hundreds of differential cases fast. IPv4 and IPv6 (by the address's form).
 */
const AGENT_JS = `
const net = require('node:net'); const dgram = require('node:dgram'); const rl = require('node:readline');
const [hosts, tcpPorts, udpPorts] = process.argv.slice(1);
let pending = 0; const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const host of hosts.split(',')) {
  for (const p of tcpPorts.split(',').filter(Boolean)) { pending++; net.createServer((c) => { c.on('error', () => {}); c.end(); }).listen(Number(p), host, ready); }
  for (const p of udpPorts.split(',').filter(Boolean)) { pending++; const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4'); s.on('error', () => {}); s.on('message', (m, r) => s.send('ok', r.port, r.address)); s.bind(Number(p), host, ready); }
}
if (pending === 0) process.stdout.write('ready\\n');
const one = (t, timeout) => new Promise((resolve) => {
  let s; const done = (ok) => { clearTimeout(timer); try { s.destroy ? s.destroy() : s.close(); } catch {} resolve(ok); };
  const timer = setTimeout(() => done(false), timeout);
  if (t.proto === 'udp') { s = dgram.createSocket(t.from.includes(':') ? 'udp6' : 'udp4'); s.on('message', () => done(true)); s.on('error', () => done(false)); s.bind({ address: t.from }, () => s.send('hi', t.port, t.host)); }
  else { s = net.connect({ host: t.host, port: t.port, localAddress: t.from }); s.on('connect', () => done(true)); s.on('error', () => done(false)); }
});
rl.createInterface({ input: process.stdin }).on('line', async (line) => {
  const { id, timeout, probes } = JSON.parse(line);
  const results = await Promise.all(probes.map((p) => one(p, timeout)));
  process.stdout.write(JSON.stringify({ id, results }) + '\\n');
});
setTimeout(() => process.exit(0), 900000).unref();
`;

export interface AgentProbe {
  proto: 'tcp' | 'udp';
  from: string;
  host: string;
  port: number;
}

export interface ProbeAgent {
  probe(probes: AgentProbe[], timeoutMs: number): Promise<boolean[]>;
  stop(): void;
}

/** Listeners bind each of `hosts` separately so that a UDP reply leaves from the address it was sent to. */
export async function startAgent(ns: string, hosts: string[], tcpPorts: number[], udpPorts: number[]): Promise<ProbeAgent> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', AGENT_JS, hosts.join(','), tcpPorts.join(','), udpPorts.join(',')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines = createInterface({ input: child.stdout! });
  const waiting = new Map<number, (r: boolean[]) => void>();
  let ready: () => void = () => undefined;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    setTimeout(() => reject(new Error('probe agent did not start within 5 s')), 5000).unref();
    child.on('exit', (code) => reject(new Error(`probe agent exited with ${code}`)));
  });
  lines.on('line', (line) => {
    if (line === 'ready') return ready();
    const { id, results } = JSON.parse(line) as { id: number; results: boolean[] };
    waiting.get(id)?.(results);
    waiting.delete(id);
  });
  await started;
  let next = 0;
  return {
    probe: (probes, timeoutMs) =>
      new Promise((resolve, reject) => {
        const id = next++;
        const timer = setTimeout(() => reject(new Error('probe agent did not answer')), timeoutMs + 5000);
        waiting.set(id, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
        child.stdin!.write(`${JSON.stringify({ id, timeout: timeoutMs, probes })}\n`);
      }),
    stop: () => child.kill('SIGKILL'),
  };
}

/** A client and a server namespace on one veth pair, each running a probe agent. */
export interface ProbePair {
  net: VethPair;
  client: ProbeAgent;
  server: ProbeAgent;
}

/**
 * Registers the hooks that build a probe pair before the enclosing suite and tear it down after
 * it, also when a test fails: the client holds every address of `clients`, the server `server`,
 * and both listen on `ports` (TCP and UDP), so probes go either way. The fields are set once
 * `beforeAll` has run.
 */
export function useProbePair(subnet: number, clients: string[], server: string, ports: number[]): ProbePair {
  const pair = {} as ProbePair;
  beforeAll(async () => {
    pair.net = await createVethPair(subnet);
    for (const extra of clients.slice(1)) await sh('ip', ['netns', 'exec', pair.net.client, 'ip', 'addr', 'add', `${extra}/24`, 'dev', pair.net.clientIf]);
    pair.client = await startAgent(pair.net.client, clients, ports, ports);
    pair.server = await startAgent(pair.net.server, [server], ports, ports);
  });
  afterAll(async () => {
    pair.client?.stop();
    pair.server?.stop();
    await pair.net?.destroy();
  });
  return pair;
}
