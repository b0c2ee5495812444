import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { memoryDataplane, type AgentDataplane } from '../../src/agent/dataplane.js';
import { AgentStatus } from '../../src/agent/protocol.js';
import { EtcdClient, parseStoreUrl } from '../../src/etcd/client.js';
import { hostKey, sha256 } from '../../src/etcd/keys.js';
import { CheckSpec } from '../../src/checks/check-spec.js';
import { AgentHost, isAgentHostError } from '../../src/hosts/agent-host.js';
import type { Ruleset } from '../../src/hosts/host-driver.js';
import { silentLogger, type Logger } from '../../src/log/logger.js';
import { startEtcd, startTcpProxy, type EtcdCluster, type TcpProxy } from '../support/etcd.js';
import { useTmpDirs } from '../support/tmp.js';
import { until } from '../support/until.js';

/** Agent logic against a real etcd, with the in-memory dataplane: no kernel involved. */

const tmp = useTmpDirs();
let etcd: EtcdCluster;
let client: EtcdClient;
const cleanups: (() => Promise<void> | void)[] = [];
beforeAll(async () => {
  etcd = await startEtcd();
  client = new EtcdClient(parseStoreUrl(etcd.localStoreUrl));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
afterAll(async () => {
  client?.close();
  await etcd?.close();
});

const ruleset = (text: string): Ruleset => ({ text, hash: sha256(text), program: null });
let hostCounter = 0;

async function startAgent(opts: { node?: string; stateDir?: string; dataplane?: AgentDataplane; endpoint?: string; logger?: Logger } = {}) {
  const node = opts.node ?? `h${++hostCounter}`;
  const agentClient = new EtcdClient([opts.endpoint ?? parseStoreUrl(etcd.localStoreUrl)[0]!]);
  const dataplane = opts.dataplane ?? memoryDataplane();
  const stateDir = opts.stateDir ?? (await tmp('palisade-agent-'));
  const agent = new Agent({
    node,
    etcd: agentClient,
    dataplane,
    stateDir,
    logger: opts.logger ?? silentLogger(),
    leaseTtlS: 3,
    probe: async (c) => ({ name: c.name, ok: true, detail: 'stub' }),
    readInterfaces: async () => [{ name: 'eth0', addresses: ['198.18.0.11'] }],
  });
  await agent.start();
  const stop = async () => {
    await agent.stop();
    agentClient.close();
  };
  cleanups.push(stop);
  return { node, agent, dataplane, stateDir, stop };
}

async function statusOf(node: string): Promise<AgentStatus | null> {
  const kv = await client.get(hostKey(node, 'status'));
  return kv ? AgentStatus.parse(JSON.parse(kv.value)) : null;
}


const hostFor = (node: string, over: Partial<ConstructorParameters<typeof AgentHost>[2]> = {}) =>
  new AgentHost(node, '198.18.0.11', { etcd: client, managementNamespace: null, confirmMs: 1500, checks: () => [], autoConfirm: false, ...over });

describe('host agent (in-memory dataplane, real etcd)', () => {
  it('applies, reports pending, and keeps the ruleset once confirmed', async () => {
    const { node, dataplane } = await startAgent();
    await until('facts', () => client.get(hostKey(node, 'facts')));
    const host = hostFor(node);
    expect(await host.readInterfaces()).toEqual([{ name: 'eth0', addresses: ['198.18.0.11'] }]);
    expect(await host.current()).toBeNull();
    await host.apply(ruleset('table inet palisade { }\n'));
    expect((await statusOf(node))?.state).toBe('pending');
    await host.confirm();
    await until('confirmed', async () => (await statusOf(node))?.state === 'confirmed');
    await new Promise((r) => setTimeout(r, 1800));
    expect(await dataplane.read()).toBe('table inet palisade { }\n');
    expect(JSON.parse((await host.current())!)).toEqual({ hash: sha256('table inet palisade { }\n'), parts: 1 });
  });

  it('reverts by itself when no confirmation arrives within the window', async () => {
    const baseline = memoryDataplane();
    await baseline.restore('table inet palisade { # baseline\n}\n');
    const { node, dataplane, agent } = await startAgent({ dataplane: baseline });
    const host = hostFor(node);
    await until('facts', () => client.get(hostKey(node, 'facts')));
    const before = await host.current();
    await host.apply(ruleset('table inet palisade { # new\n}\n'));
    expect(await dataplane.read()).toContain('# new');
    const reverted = await until('reverted', async () => ((await statusOf(node))?.state === 'reverted' ? statusOf(node) : null));
    expect(reverted!.reason).toMatch(/no confirmation within the confirm window/);
    expect(await dataplane.read()).toContain('# baseline');
    expect(agent.stats).toMatchObject({ applies: 1, reverts: 1 });
    // The rollback target the reconciler saw before is what the host holds again.
    expect(await host.current()).toBe(before);
  });

  it('a confirmation that loses the race with a revert stays lost: a retried check and a later confirm() fail, never confirm the old rules', async () => {
    const baseline = memoryDataplane();
    await baseline.restore('table inet palisade { # baseline\n}\n');
    const { node, dataplane } = await startAgent({ dataplane: baseline });
    const feed = CheckSpec.parse({ name: 'path-to-feed', kind: 'tcp', vantage: 'host', target: '198.18.0.1', port: 2379 });
    const host = hostFor(node, { confirmMs: 300, autoConfirm: true, checks: () => [feed] });
    await until('facts', () => client.get(hostKey(node, 'facts')));
    await host.apply(ruleset('table inet palisade { # new\n}\n'));
    await until('reverted', async () => ((await statusOf(node))?.state === 'reverted' ? true : null));
    expect(await dataplane.read()).toContain('# baseline');
    // First attempt: its passing check confirms, the agent answers that it reverted.
    const first = await host.check(feed);
    expect(first.ok).toBe(false);
    expect(first.detail).toMatch(/not in force.*reverted/);
    // The retry of the same round (checkAttempts) and the rollout's own confirm must not pass either.
    const retried = await host.check(feed);
    expect(retried.ok, retried.detail).toBe(false);
    await expect(host.confirm()).rejects.toSatisfy((e: unknown) => isAgentHostError(e) && e.code === 'AGENT_REVERTED');
    // A rollback (restore) starts afresh: nothing is reported lost any more.
    await host.restore(await host.current());
    expect((await host.check(feed)).ok).toBe(true);
  });

  it('an agent restarted inside its confirm window reverts on start', async () => {
    const dataplane = memoryDataplane();
    const first = await startAgent({ dataplane });
    const host = hostFor(first.node, { confirmMs: 60_000 });
    await until('facts', () => client.get(hostKey(first.node, 'facts')));
    await host.apply(ruleset('table inet palisade { # risky\n}\n'));
    await first.stop();
    expect(await dataplane.read()).toContain('# risky');
    const second = await startAgent({ node: first.node, stateDir: first.stateDir, dataplane });
    expect(await dataplane.read()).toBe('absent');
    expect(second.agent.stats.reverts).toBe(1);
    const s = await until('reverted', async () => ((await statusOf(first.node))?.state === 'reverted' ? statusOf(first.node) : null));
    expect(s!.reason).toMatch(/restarted inside the confirm window/);
    // A late confirmation of the reverted generation is refused, changes nothing, and nothing is re-applied.
    await expect(host.confirm()).rejects.toSatisfy((e) => isAgentHostError(e, 'AGENT_REVERTED'));
    await new Promise((r) => setTimeout(r, 300));
    expect(await dataplane.read()).toBe('absent');
    expect(second.agent.stats.applies).toBe(0);
  });

  it('a refused ruleset fails the apply with the reason and leaves the host as it was', async () => {
    const dataplane: AgentDataplane = { ...memoryDataplane(), apply: async () => Promise.reject(Object.assign(new Error('nft rejected the ruleset in a dry run: syntax error'), { code: 'NFT_CHECK_FAILED' })) };
    const { node } = await startAgent({ dataplane });
    await until('facts', () => client.get(hostKey(node, 'facts')));
    await expect(hostFor(node).apply(ruleset('garbage'))).rejects.toSatisfy((e) => isAgentHostError(e, 'AGENT_APPLY_FAILED') && /syntax error/.test((e as Error).message));
    expect(await dataplane.read()).toBe('absent');
  });

  it('stores a ruleset over etcd\'s request limit in parts and applies it whole', async () => {
    const { node, dataplane } = await startAgent();
    await until('facts', () => client.get(hostKey(node, 'facts')));
    const big = `table inet palisade {\n${'  # padding line for a large ruleset\n'.repeat(60_000)}}\n`;
    expect(big.length).toBeGreaterThan(2 * 1024 * 1024);
    await hostFor(node, { autoConfirm: true }).apply(ruleset(big));
    await until('confirmed', async () => (await statusOf(node))?.state === 'confirmed');
    expect(await dataplane.read()).toBe(big);
  });

  it('a watch cancelled by compaction makes the agent list again and converge', async () => {
    const proxy: TcpProxy = await startTcpProxy(parseStoreUrl(etcd.localStoreUrl)[0]!);
    cleanups.push(() => proxy.close());
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const { node, agent, dataplane } = await startAgent({ endpoint: proxy.endpoint, logger });
    await until('facts', () => client.get(hostKey(node, 'facts')));
    const host = hostFor(node, { confirmMs: 60_000, answerTimeoutMs: 100 });
    // The agent's first list-and-watch must be live before the cut; otherwise the cut only delays
    // that first sync and no watch is ever cancelled.
    await host.apply(ruleset('table inet palisade { # zero\n}\n')).catch(() => undefined);
    await until('the watch delivered a desired ruleset', async () => ((await dataplane.read()).includes('# zero') ? true : undefined), 30_000);
    const relists = agent.stats.relists;
    const applies = agent.stats.applies;
    proxy.cut();
    // While the agent is away: two desired writes, then history compacted past them.
    await host.apply(ruleset('table inet palisade { # one\n}\n')).catch(() => undefined);
    await host.apply(ruleset('table inet palisade { # two\n}\n')).catch(() => undefined);
    for (let i = 0; i < 5; i++) await client.put('/palisade/v1/test/filler', String(i));
    const head = await client.range('/palisade/v1/test/filler');
    await client.compact(head.revision);
    proxy.heal();
    await until('converged on the last desired', async () => (await dataplane.read()).includes('# two'), 30_000);
    expect(agent.stats.relists).toBeGreaterThan(relists);
    expect(lines.some((l) => /WatchCancelled/.test(l) && /Watcher canceled/.test(l))).toBe(true);
    expect(agent.stats.applies).toBe(applies + 1);
  }, 45_000);
});
