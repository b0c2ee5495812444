import path from 'node:path';
import { openFileEventStore, type FileEventStore, type FileEventStoreOptions } from '../../src/eventlog/file-store.js';
import { openSnapshotStore } from '../../src/eventlog/snapshot.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import type { HostDriver, Ruleset } from '../../src/hosts/host-driver.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { TestRepo } from './repo.js';

/**
 * A policy repository and simulated hosts for the status model's tests: a good commit, and a
 * lockout (failsafe ports emptied, SSH denied) that the canary's SSH check rolls back.
 */

export const FLEET = ['node-a', 'node-b', 'node-c'];
const address = (i: number) => `198.18.0.${11 + i}`;

const heps = FLEET.map(
  (h, i) => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: ${h}-eth0, labels: {role: worker}}
spec: {node: ${h}, interfaceName: eth0, expectedIPs: ["${address(i)}"]}
`,
).join('---\n');

export const rolloutYaml = (soak = '0') => `waves:
  - {name: canary, count: 1}
  - {name: rest}
soak: ${soak}
soakInterval: 100ms
checkAttempts: 1
`;

export const GOOD_FILES = (soak?: string) => ({ 'palisade.yaml': rolloutYaml(soak), 'hosts.yaml': heps });

export const LOCKOUT_FILES = {
  'felix.yaml': `apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec: {failsafeInboundHostPorts: []}
`,
  'deny-ssh.yaml': `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: deny-ssh}
spec:
  order: 1
  selector: all()
  ingress: [{action: Deny, protocol: TCP, destination: {ports: [22]}}]
`,
};

/** A simulated host whose applies take `delayMs`, so a watcher can see `applying`. */
class SlowApplyHost extends SimulatedHost {
  constructor(
    name: string,
    address: string,
    private readonly delayMs: () => number,
  ) {
    super(name, address, [{ name: 'eth0', addresses: [address] }], '198.18.0.1', LAB_SERVICES);
  }
  override async apply(ruleset: Ruleset): Promise<void> {
    await new Promise((r) => setTimeout(r, this.delayMs()));
    await super.apply(ruleset);
  }
}

export interface StatusFleet {
  repo: TestRepo;
  stateDir: string;
  store: FileEventStore;
  git: GitSource;
  drivers: Map<string, HostDriver>;
  /** Milliseconds each apply takes from now on. */
  applyDelayMs: number;
  reconciler(): Reconciler;
  close(): Promise<void>;
}

export async function statusFleet(dir: string, opts: Pick<FileEventStoreOptions, 'onAppended'> = {}): Promise<StatusFleet> {
  const repo = await TestRepo.create(path.join(dir, 'repo'));
  const stateDir = path.join(dir, 'state');
  const store = await openFileEventStore(path.join(stateDir, 'events'), opts.onAppended ? { onAppended: opts.onAppended } : {});
  const git = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(stateDir, 'git-cache') });
  const fleet: StatusFleet = {
    repo,
    stateDir,
    store,
    git,
    applyDelayMs: 0,
    drivers: new Map(),
    reconciler: () =>
      new Reconciler({ git, store, logger: silentLogger(), stateDir, drivers: fleet.drivers, pollIntervalMs: 100, snapshots: openSnapshotStore(path.join(stateDir, 'snapshots')), snapshotEvery: 5 }),
    close: async () => {
      await git.close();
      await store.close();
    },
  };
  FLEET.forEach((h, i) => fleet.drivers.set(h, new SlowApplyHost(h, address(i), () => fleet.applyDelayMs)));
  return fleet;
}
