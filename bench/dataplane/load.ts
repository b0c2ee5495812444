/**
 * `nft -f` load time of a realistic host ruleset — 200 policies, 2,000 set addresses, 4 host
 * endpoints — rendered from a generated desired state and loaded into a scratch namespace.
 * Baseline, measured in the same run: loading an empty `table inet palisade` the same way
 * (same spawn of `ip netns exec nft`, same add/delete/define batch), so the ratio is what the
 * ruleset itself costs on top of running nft at all.
 *   node --import tsx bench/dataplane/load.ts
 */
import { performance } from 'node:perf_hooks';
import { compileHost, type HostFacts } from '../../src/compiler/index.js';
import { netnsNft, readTable, renderNft, TABLE, type NftRunner } from '../../src/dataplane/index.js';
import { isRoot } from '../../test/support/netns.js';
import { stateOf } from '../../test/support/policy-fixtures.js';
import { createNamespace, median, withCleanup } from '../support/scratch-ns.js';

const POLICIES = 200;
const SETS = 20;
const ADDRESSES_PER_SET = 100;
const RUNS = 9;

function hostState() {
  const docs: Record<string, unknown>[] = [];
  const facts: HostFacts = { node: 'bench', interfaces: [{ name: 'lo', addresses: ['127.0.0.1/8'] }] };
  for (let e = 0; e < 4; e++) {
    facts.interfaces.push({ name: `eth${e}`, addresses: [`198.18.30.${e + 1}/24`] });
    docs.push({ kind: 'HostEndpoint', metadata: { name: `bench-eth${e}`, labels: { role: `r${e % 2}`, host: 'bench' } }, spec: { node: 'bench', interfaceName: `eth${e}`, expectedIPs: [`198.18.30.${e + 1}`] } });
  }
  for (let s = 0; s < SETS; s++) {
    // 198.19.0.0/16, every other address, so the interval set cannot merge neighbours into ranges.
    const nets = Array.from({ length: ADDRESSES_PER_SET }, (_, i) => {
      const n = 2 * (s * ADDRESSES_PER_SET + i);
      return `198.19.${n >> 8}.${n & 255}/32`;
    });
    docs.push({ kind: 'GlobalNetworkSet', metadata: { name: `set${s}`, labels: { grp: `g${s}` } }, spec: { nets } });
  }
  for (let p = 0; p < POLICIES; p++) {
    docs.push({
      kind: 'GlobalNetworkPolicy',
      metadata: { name: `p${p}` },
      spec: {
        order: p,
        selector: p % 3 === 0 ? "host == 'bench'" : `role == 'r${p % 2}'`,
        ingress: [
          { action: 'Allow', protocol: 'TCP', source: { selector: `grp == 'g${p % SETS}'` }, destination: { ports: [1000 + p, '8000:8100'] } },
          { action: 'Deny', protocol: 'UDP', source: { nets: ['198.19.128.0/17'] } },
          { action: 'Allow', protocol: 'ICMP', icmp: { type: 8 } },
        ],
        egress: [{ action: 'Allow', destination: { selector: `grp == 'g${(p + 1) % SETS}'` } }],
      },
    });
  }
  return { state: stateOf(...docs), facts };
}

async function timeLoad(nft: NftRunner, args: string[], text: string): Promise<number> {
  const t = performance.now();
  const r = await nft.run(args, text);
  const ms = performance.now() - t;
  if (r.code !== 0) throw new Error(`nft ${args.join(' ')} failed: ${r.stderr}`);
  return ms;
}

async function main() {
  if (!isRoot) throw new Error('needs root (network namespaces)');
  const { state, facts } = hostState();
  const program = compileHost(state, facts);
  const text = renderNft(program);
  const empty = `table ${TABLE} {}\ndelete table ${TABLE}\ntable ${TABLE} {\n}\n`;
  const rules = text.split('\n').filter((l) => /comment "/.test(l)).length;
  const elements = program.addressSets.reduce((n, s) => n + s.elements.length, 0);

  await withCleanup(async (track) => {
    const nft = netnsNft(await createNamespace(track));
    const samples = { empty: [] as number[], load: [] as number[], check: [] as number[], list: [] as number[] };
    // Interleaved, so load on the machine hits every measurement alike.
    for (let i = 0; i < RUNS; i++) {
      samples.empty.push(await timeLoad(nft, ['-f', '-'], empty));
      samples.check.push(await timeLoad(nft, ['-c', '-f', '-'], text));
      samples.load.push(await timeLoad(nft, ['-f', '-'], text));
      const t = performance.now();
      await readTable(nft);
      samples.list.push(performance.now() - t);
    }
    const base = median(samples.empty);
    const line = (name: string, ms: number) => console.log(`${name.padEnd(46)} ${ms.toFixed(1).padStart(8)} ms  ratio ${(ms / base).toFixed(2)}x baseline`);
    console.log(`ruleset: ${POLICIES} policies, ${elements} set addresses in ${program.addressSets.length} sets, ${rules} rules, ${(text.length / 1024).toFixed(0)} KiB; median of ${RUNS}`);
    console.log(`baseline: nft -f of an empty table                ${base.toFixed(1).padStart(8)} ms`);
    line('nft -c -f (dry run) of the host ruleset', median(samples.check));
    line('nft -f (atomic replace) of the host ruleset', median(samples.load));
    line('nft list table (read-back)', median(samples.list));
  });
}

await main();
