import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHost } from '../../src/compiler/index.js';
import { applyRuleset, netnsNft, readTable, renderNft } from '../../src/dataplane/index.js';
import { createVethPair, isRoot, type VethPair } from '../support/netns.js';
import { gnp, hep, stateOf } from '../support/policy-fixtures.js';

/**
 * The first table Palisade loads into a namespace that never had one must not cut connections
 * that already exist: the agent's to etcd, an operator's SSH session. Before any table, the
 * kernel tracks no connections there; once a table matches on `ct state`, conntrack starts and
 * meets those connections mid-stream.
 */

/** A line-oriented node process in a namespace: `send(text)` writes to its socket, `lines` is what it received. */
interface Peer {
  proc: ChildProcess;
  lines: string[];
  send(text: string): void;
}

const CODE = `
const net = require('node:net');
const [mode, host, port] = process.argv.slice(1);
let sock = null;
const use = (s) => { sock = s; s.setNoDelay(true); s.on('data', (d) => process.stdout.write('got ' + d)); s.on('error', (e) => process.stdout.write('error ' + e.code + '\\n')); process.stdout.write('connected\\n'); };
if (mode === 'listen') net.createServer(use).listen(Number(port), host, () => process.stdout.write('listening\\n'));
else use(net.connect(Number(port), host));
process.stdin.on('data', (d) => sock && sock.write(d));
setTimeout(() => process.exit(0), 60000).unref();
`;

function peer(ns: string, mode: 'listen' | 'connect', host: string, port: number): Peer {
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CODE, mode, host, String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: string[] = [];
  let partial = '';
  proc.stdout!.on('data', (d: Buffer) => {
    const parts = (partial + String(d)).split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
  });
  return { proc, lines, send: (text) => proc.stdin!.write(`${text}\n`) };
}

async function seen(p: Peer, line: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.lines.includes(line)) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

describe.skipIf(!isRoot)('kernel: the first table keeps existing connections (fresh namespace)', () => {
  let net: VethPair;
  const procs: ChildProcess[] = [];
  beforeAll(async () => {
    net = await createVethPair(11);
  });
  afterAll(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await net?.destroy();
  });

  it('an idle connection out of the host (agent → etcd) and one into it (SSH) both carry data after the first apply', { timeout: 30_000 }, async () => {
    // `server` is the host Palisade manages; `client` plays etcd and the operator's machine.
    const host = net.server;
    const etcd = peer(net.client, 'listen', net.clientAddr, 2379);
    const sshd = peer(host, 'listen', net.serverAddr, 22);
    procs.push(etcd.proc, sshd.proc);
    expect(await seen(etcd, 'listening', 5000)).toBe(true);
    expect(await seen(sshd, 'listening', 5000)).toBe(true);
    const agent = peer(host, 'connect', net.clientAddr, 2379);
    const operator = peer(net.client, 'connect', net.serverAddr, 22);
    procs.push(agent.proc, operator.proc);
    for (const p of [agent, operator, etcd, sshd]) expect(await seen(p, 'connected', 5000)).toBe(true);
    // Both connections carry data before any table.
    etcd.send('before');
    expect(await seen(agent, 'got before', 3000)).toBe(true);

    const program = compileHost(
      stateOf(
        hep('host-eth', { node: 'host', interfaceName: net.serverIf, expectedIPs: [net.serverAddr] }, { role: 'worker' }),
        gnp('web', { selector: "role == 'worker'", ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] }),
      ),
      { node: 'host', interfaces: [{ name: net.serverIf, addresses: [`${net.serverAddr}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] },
    );
    const nft = netnsNft(host);
    expect(await readTable(nft)).toBe('absent');
    await applyRuleset(nft, renderNft(program));

    // The first packet after the apply comes from the far side on both: etcd pushing a watch
    // event to the agent, the operator typing into the SSH session.
    etcd.send('watch-event');
    operator.send('keystroke');
    expect(await seen(agent, 'got watch-event', 3000), `agent saw: ${agent.lines.join(' | ')}`).toBe(true);
    expect(await seen(sshd, 'got keystroke', 3000), `sshd saw: ${sshd.lines.join(' | ')}`).toBe(true);
    // And back.
    agent.send('keepalive');
    sshd.send('echo');
    expect(await seen(etcd, 'got keepalive', 3000)).toBe(true);
    expect(await seen(operator, 'got echo', 3000)).toBe(true);
    // A connection the policy does not allow still cannot be opened (it needs a SYN).
    const listener = peer(host, 'listen', net.serverAddr, 2222);
    procs.push(listener.proc);
    expect(await seen(listener, 'listening', 5000)).toBe(true);
    const stranger = peer(net.client, 'connect', net.serverAddr, 2222);
    procs.push(stranger.proc);
    expect(await seen(listener, 'connected', 1500)).toBe(false);
  });
});
