import path from 'node:path';
import { Agent } from '../agent/agent.js';
import { nftDataplane } from '../agent/dataplane.js';
import { EtcdClient, parseStoreUrl } from '../etcd/client.js';
import { LocalHost } from '../hosts/local-host.js';
import { NetnsHost } from '../hosts/netns-host.js';
import { createLogger, LOG_FORMATS, logFormat } from '../log/logger.js';
import { parseCommand } from './args.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade agent --node NAME --store etcd://HOST:PORT[,…] (--netns NS | --manage-this-machine) [options]

  --node NAME        this host's name (its keys: /palisade/v1/hosts/NAME/…)
  --store URL        etcd endpoints, etcd://HOST:PORT[,HOST:PORT…]
  --netns NS         network namespace whose nftables the agent manages (nft runs via ip netns exec)
  --manage-this-machine
                     manage the nftables of the machine the agent runs on (its own network)
  --state DIR        where the pending apply and the last good ruleset are kept
                     (default: /var/lib/palisade/agent/NAME)
  --lease-ttl D      liveness lease TTL, whole seconds (default: 5s; at least 2s)
  --log-format F     json or pretty (default: PALISADE_LOG_FORMAT, else pretty on a terminal)
  -h, --help         this text

Runs until SIGINT or SIGTERM. Exit status: 0 stopped, 1 could not start (etcd, state
directory), 2 usage error. Logging: PALISADE_LOG_LEVEL (default info).`;

const SPEC = {
  name: 'agent',
  usage: USAGE,
  options: {
    node: { type: 'string' },
    store: { type: 'string' },
    state: { type: 'string' },
    netns: { type: 'string' },
    'manage-this-machine': { type: 'boolean' },
    'lease-ttl': { type: 'duration', default: '5s', min: 2000, wholeSeconds: true },
    'log-format': { type: 'choice', choices: LOG_FORMATS },
  },
} as const;

export async function runAgent(argv: string[], io: CommandIO): Promise<number> {
  const args = parseCommand(argv, SPEC, io);
  if (!args) return 0;
  const values = args.values;
  if (!values.node || !values.store) throw new UsageError('agent needs --node and --store');
  if (!/^[A-Za-z0-9_.-]{1,253}$/.test(values.node)) throw new UsageError(`--node '${values.node}' must be letters, digits, '.', '_' or '-'`);
  // Changing the nftables of the machine itself must be asked for by name, never a default.
  if (!values.netns === !values['manage-this-machine']) throw new UsageError('agent needs exactly one of --netns NS and --manage-this-machine');
  const leaseTtlS = values['lease-ttl'] / 1000;
  const node = values.node;
  const host = values.netns ? new NetnsHost(node, values.netns, '', null) : new LocalHost(node, '', { manageThisMachine: true });

  const logger = createLogger({ format: logFormat(values['log-format']) }).child({ component: 'agent' });
  const etcd = new EtcdClient(parseStoreUrl(values.store));
  const agent = new Agent({
    node,
    etcd,
    dataplane: nftDataplane(host.nft),
    stateDir: path.resolve(values.state ?? path.join('/var/lib/palisade/agent', node)),
    logger,
    leaseTtlS,
    probe: (check) => host.check({ ...check, vantage: 'host' }),
    readInterfaces: () => host.readInterfaces(),
  });
  try {
    await agent.start();
    logger.info({ event: 'AgentStarted', node, store: values.store, where: host.nft.where }, 'agent started');
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
