import { execFile } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { Agent } from '../agent/agent.js';
import { nftDataplane } from '../agent/dataplane.js';
import { judge } from '../checks/run-checks.js';
import { probe } from '../checks/probes/probe.js';
import { netnsNft } from '../dataplane/index.js';
import { EtcdClient, parseStoreUrl } from '../etcd/client.js';
import type { HostInterface } from '../hosts/host-driver.js';
import { createLogger } from '../log/logger.js';
import { UsageError, type CommandIO } from './io.js';

const run = promisify(execFile);

const USAGE = `usage: palisade agent --node NAME --store etcd://HOST:PORT[,…] --netns NS [options]

  --node NAME        this host's name (its keys: /palisade/v1/hosts/NAME/…)
  --store URL        etcd endpoints, etcd://HOST:PORT[,HOST:PORT…]
  --netns NS         network namespace whose nftables the agent manages (nft runs via ip netns exec)
  --state DIR        where the pending apply and the last good ruleset are kept
                     (default: /var/lib/palisade/agent/NAME)
  --lease-ttl S      liveness lease TTL in seconds (default: 5)`;

export async function runAgent(argv: string[], io: CommandIO): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      node: { type: 'string' },
      store: { type: 'string' },
      state: { type: 'string' },
      netns: { type: 'string' },
      'lease-ttl': { type: 'string', default: '5' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    io.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!values.node || !values.store) throw new UsageError(`agent needs --node and --store\n\n${USAGE}`);
  if (!/^[A-Za-z0-9_.-]{1,253}$/.test(values.node)) throw new UsageError(`--node '${values.node}' must be letters, digits, '.', '_' or '-'`);
  // The dataplane deliberately has no nft runner for the caller's own namespace: on a real host
  // the agent's namespace is named explicitly (`ip netns` can name the host's own).
  if (!values.netns) throw new UsageError(`agent needs --netns NS: the namespace whose nftables it manages\n\n${USAGE}`);
  const leaseTtlS = Number(values['lease-ttl']);
  if (!Number.isInteger(leaseTtlS) || leaseTtlS < 2) throw new UsageError(`--lease-ttl must be a whole number ≥ 2, got '${values['lease-ttl']}'`);
  const netns = values.netns;
  const node = values.node;

  const logger = createLogger().child({ component: 'agent' });
  const etcd = new EtcdClient(parseStoreUrl(values.store));
  const agent = new Agent({
    node,
    etcd,
    dataplane: nftDataplane(netnsNft(netns)),
    stateDir: path.resolve(values.state ?? path.join('/var/lib/palisade/agent', node)),
    logger,
    leaseTtlS,
    probe: async (check) => {
      if (!check.target) return { name: check.name, ok: false, detail: `a host-vantage check needs a target; '${check.name}' has none` };
      return judge(check, await probe(check, check.target, { namespace: netns }), `from ${node} to ${check.target}`);
    },
    readInterfaces: () => interfacesOf(netns),
  });
  try {
    await agent.start();
    logger.info({ event: 'AgentStarted', node, store: values.store, netns }, 'agent started');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await agent.stop();
    etcd.close();
  }
}

async function interfacesOf(netns: string): Promise<HostInterface[]> {
  const { stdout } = await run('ip', ['-n', netns, '-j', 'addr', 'show'], { timeout: 10_000 });
  const links = JSON.parse(stdout) as { ifname: string; addr_info?: { local: string }[] }[];
  return links.map((l) => ({ name: l.ifname, addresses: (l.addr_info ?? []).map((a) => a.local) }));
}
