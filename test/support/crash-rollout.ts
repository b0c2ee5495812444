import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SSH_FAILSAFE_CHECK, type CheckSpec } from '../../src/checks/check-spec.js';
import type { CheckOutcome } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import type { HostDriver, HostInterface, Ruleset } from '../../src/hosts/host-driver.js';
import { silentLogger } from '../../src/log/logger.js';
import { BeforeSnapshots } from '../../src/rollout/before-snapshots.js';
import { RolloutConfig } from '../../src/rollout/rollout-config.js';
import { startRollout } from '../../src/rollout/run-rollout.js';
import { project } from '../../src/state/projections.js';

/**
 * Child of the resume-record test: runs (or resumes) the rollout of `r1` over two hosts — `good`
 * in the canary, `bad` (its checks fail once it holds the new table) in the second wave, with
 * `onFailure: rollback`, so the path visits every state of the host machine — and SIGKILLs
 * itself as soon as the transition of `HOST` to `STATE` is durable. Tables live in files, so
 * what a host holds survives the kill like a real host's.
 */
const [dir, kill] = process.argv.slice(2) as [string, string];
const [killHost, killState] = kill.split('/');
const tables = join(dir, 'tables');
mkdirSync(tables, { recursive: true });

class FileHost implements HostDriver {
  readonly simulated = true;
  readonly address = '198.18.0.99';
  constructor(readonly name: string) {}
  async readInterfaces(): Promise<HostInterface[]> {
    return [];
  }
  async current() {
    const file = join(tables, this.name);
    return existsSync(file) ? readFileSync(file, 'utf8') : null;
  }
  async apply(ruleset: Ruleset) {
    writeFileSync(join(tables, this.name), ruleset.text);
  }
  async restore(snapshot: string | null) {
    writeFileSync(join(tables, this.name), snapshot ?? '');
  }
  async check(check: CheckSpec): Promise<CheckOutcome> {
    const ok = !(this.name === 'bad' && (await this.current()) === 'new');
    return { name: check.name, ok, detail: ok ? 'open' : 'timed out' };
  }
}

const store = await openFileEventStore(join(dir, 'events'));
const progress = project(await store.read()).revisions.get('r1');
const config = RolloutConfig.parse({ soak: 300, soakInterval: 100, checkAttempts: 1, onFailure: 'rollback' });
const waves = [
  { name: 'canary', hosts: ['good'] },
  { name: 'rest', hosts: ['bad'] },
];
const handle = startRollout(
  'r1',
  progress?.waves ?? waves,
  config,
  [0],
  {
    store: {
      // One draft at a time, so the kill lands right after the transition it names: what the
      // batch held after it is lost, as in a crash mid-batch.
      append: async (drafts) => {
        const appended = [];
        for (const draft of drafts) {
          const [e] = await store.append([draft]);
          if (!e) continue;
          appended.push(e);
          if (e.type === 'HostTransition' && e.host === killHost && e.to === killState) process.kill(process.pid, 'SIGKILL');
        }
        return appended;
      },
      read: (since) => store.read(since),
      head: () => store.head(),
      close: () => store.close(),
    },
    logger: silentLogger(),
    drivers: new Map(['good', 'bad'].map((h) => [h, new FileHost(h)])),
    snapshots: new BeforeSnapshots(join(dir, 'before')),
    rulesetFor: () => ({ hash: 'h-new', text: 'new', program: null }),
    checksFor: () => [SSH_FAILSAFE_CHECK],
    reachabilityChecks: new Set([SSH_FAILSAFE_CHECK.name]),
  },
  progress?.waves ? progress : undefined,
);
const output = await handle.done;
await store.close();
process.stdout.write(`${JSON.stringify(output.outcome)}\n`);
