/**
 * Per-packet cost of a ruleset: TCP connect latency from a client namespace to a server namespace
 * across veth, through the server's input hook, with the client's address the last of N allowed
 * source addresses. Palisade's ruleset (one rule, an interval set of N addresses) next to the same
 * policy rendered as linear rules (one rule per address, the SYN traverses all N), for N = 10 and
 * 10,000, all in the same run. Baseline: the same connects with no table at all.
 * Connects are bounded in number and closed with RST (resetAndDestroy, the SO_LINGER 0
 * equivalent) so TIME_WAIT never builds up. Target: Palisade at 10,000 within 1.5× of 10.
 *   node --import tsx bench/dataplane/connect-latency.ts      (CONNECTS=N to change the count)
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { compileHost } from '../../src/compiler/index.js';
import { netnsNft, renderNft, TABLE, type NftRunner } from '../../src/dataplane/index.js';
import { createVethPair, isRoot, startServer } from '../../test/support/netns.js';
import { stateOf } from '../../test/support/policy-fixtures.js';
import { median, quantile, withCleanup } from '../support/scratch-ns.js';

const SUBNET = 31;
const PORT = 8080;
const SIZES = [10, 10_000];
const CONNECTS = Math.min(Number(process.env.CONNECTS ?? 1000), 20_000);
const ROUNDS = 5;

/** N-1 other addresses (198.19.0.0/16, every other one) and then the client's. */
const allowed = (n: number, client: string) => [...Array.from({ length: n - 1 }, (_, i) => `198.19.${(2 * i) >> 8}.${(2 * i) & 255}`), client];

function palisadeRuleset(n: number, client: string, serverIf: string, serverAddr: string): string {
  const state = stateOf(
    { kind: 'HostEndpoint', metadata: { name: 'srv', labels: { role: 'srv' } }, spec: { node: 'server', interfaceName: serverIf, expectedIPs: [serverAddr] } },
    { kind: 'GlobalNetworkSet', metadata: { name: 'clients', labels: { grp: 'clients' } }, spec: { nets: allowed(n, client).map((a) => `${a}/32`) } },
    {
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'allow-clients' },
      spec: { selector: "role == 'srv'", ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: "grp == 'clients'" }, destination: { ports: [PORT] } }], egress: [{ action: 'Allow' }] },
    },
  );
  return renderNft(compileHost(state, { node: 'server', interfaces: [{ name: serverIf, addresses: [`${serverAddr}/24`] }, { name: 'lo', addresses: ['127.0.0.1/8'] }] }));
}

/** The same policy as a linear firewall: established first, then one rule per address, then drop. */
function linearRuleset(n: number, client: string, serverIf: string): string {
  const rules = allowed(n, client).map((a) => `\t\tip saddr ${a} tcp dport ${PORT} accept`);
  return [
    `table ${TABLE} {}`,
    `delete table ${TABLE}`,
    `table ${TABLE} {`,
    '\tchain filter-input {',
    '\t\ttype filter hook input priority 0; policy accept;',
    `\t\tiifname != "${serverIf}" accept`,
    '\t\tct state established,related accept',
    ...rules,
    '\t\tdrop',
    '\t}',
    '}',
    '',
  ].join('\n');
}

const noTable = `table ${TABLE} {}\ndelete table ${TABLE}\n`;

/** Sequential connects from inside the client namespace; prints one latency in µs per line. */
const CLIENT_JS = `
const net = require('node:net');
const [host, port, count] = process.argv.slice(1);
let left = Number(count);
const one = () => {
  const t = process.hrtime.bigint();
  const s = net.connect({ host, port: Number(port) });
  const timer = setTimeout(() => { s.destroy(); process.stdout.write('timeout\\n'); process.exit(1); }, 2000);
  s.on('connect', () => {
    const us = Number(process.hrtime.bigint() - t) / 1000;
    clearTimeout(timer);
    s.resetAndDestroy();
    process.stdout.write(us.toFixed(1) + '\\n');
    if (--left > 0) setImmediate(one); else process.exit(0);
  });
  s.on('error', (e) => { process.stdout.write('error ' + e.code + '\\n'); process.exit(1); });
};
one();
`;

async function connectLatencies(ns: string, host: string, count: number): Promise<number[]> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT_JS, host, String(PORT), String(count)], { stdio: ['ignore', 'pipe', 'inherit'], timeout: 120_000 });
  const out: number[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    if (!/^[0-9.]+$/.test(line)) throw new Error(`connect failed: ${line}`);
    out.push(Number(line));
  }
  return out;
}

async function load(nft: NftRunner, text: string) {
  const r = await nft.run(['-f', '-'], text);
  if (r.code !== 0) throw new Error(`nft -f failed: ${r.stderr}`);
}

async function main() {
  if (!isRoot) throw new Error('needs root (network namespaces)');
  await withCleanup(async (track) => {
    const net = await createVethPair(SUBNET);
    track(net.client);
    track(net.server);
    const server = await startServer(net.server, net.serverAddr, [PORT]);
    try {
      const nft = netnsNft(net.server);
      const variants: [string, string][] = [['no table (baseline)', noTable]];
      for (const n of SIZES) {
        variants.push([`palisade, ${n} addresses`, palisadeRuleset(n, net.clientAddr, net.serverIf, net.serverAddr)]);
        variants.push([`linear, ${n} addresses`, linearRuleset(n, net.clientAddr, net.serverIf)]);
      }
      const p50s = new Map<string, number[]>(variants.map(([name]) => [name, []]));
      const p99s = new Map<string, number[]>(variants.map(([name]) => [name, []]));
      // Rounds interleave the variants, so background load on the machine hits all of them alike.
      for (let round = 0; round < ROUNDS; round++) {
        for (const [name, text] of variants) {
          await load(nft, text);
          await connectLatencies(net.client, net.serverAddr, 100); // warm-up: caches, JIT, ARP
          const xs = await connectLatencies(net.client, net.serverAddr, CONNECTS);
          p50s.get(name)!.push(quantile(xs, 0.5));
          p99s.get(name)!.push(quantile(xs, 0.99));
        }
      }
      const p50 = (name: string) => median(p50s.get(name)!);
      const base = p50('no table (baseline)');
      console.log(`TCP connect latency, ${CONNECTS} connects × ${ROUNDS} rounds per variant (median of round p50 / p99)`);
      for (const [name] of variants) {
        console.log(`${name.padEnd(28)} p50 ${p50(name).toFixed(0).padStart(6)} µs  p99 ${median(p99s.get(name)!).toFixed(0).padStart(6)} µs  ratio ${(p50(name) / base).toFixed(2)}x baseline`);
      }
      const [small, large] = SIZES;
      const flat = p50(`palisade, ${large} addresses`) / p50(`palisade, ${small} addresses`);
      const linear = p50(`linear, ${large} addresses`) / p50(`linear, ${small} addresses`);
      console.log(`palisade ${large} vs ${small}: ${flat.toFixed(2)}x (target ≤ 1.5x: ${flat <= 1.5 ? 'met' : 'MISSED'}); linear ${large} vs ${small}: ${linear.toFixed(2)}x`);
    } finally {
      server.stop();
    }
  });
}

await main();
