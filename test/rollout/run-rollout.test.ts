import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SSH_FAILSAFE_CHECK, type CheckSpec } from '../../src/checks/check-spec.js';
import type { CheckOutcome, EventOf } from '../../src/eventlog/events.js';
import { openFileEventStore } from '../../src/eventlog/file-store.js';
import type { HostDriver, HostInterface, Ruleset } from '../../src/hosts/host-driver.js';
import { silentLogger } from '../../src/log/logger.js';
import { BeforeSnapshots } from '../../src/rollout/before-snapshots.js';
import { RolloutConfig } from '../../src/rollout/rollout-config.js';
import { startRollout } from '../../src/rollout/run-rollout.js';
import { project } from '../../src/state/projections.js';
import { useTmpDirs } from '../support/tmp.js';

/** A host whose SSH check fails while `breaks` says the applied ruleset breaks it. */
class FakeHost implements HostDriver {
  readonly simulated = true;
  readonly address = '198.18.0.99';
  private table: string | null = null;
  constructor(
    readonly name: string,
    private readonly breaks: boolean,
  ) {}
  async readInterfaces(): Promise<HostInterface[]> {
    return [];
  }
  async current() {
    return this.table;
  }
  async apply(ruleset: Ruleset) {
    this.table = ruleset.text;
  }
  async restore(snapshot: string | null) {
    this.table = snapshot;
  }
  async check(check: CheckSpec): Promise<CheckOutcome> {
    const ok = !(this.breaks && this.table === 'new');
    return { name: check.name, ok, detail: ok ? 'open' : 'timed out' };
  }
}

const tmp = useTmpDirs();

async function rollout(hosts: FakeHost[], onFailure: 'halt' | 'rollback', waves = hosts.map((h) => ({ name: h.name, hosts: [h.name] })), stateDir?: string) {
  const dir = stateDir ?? (await tmp('palisade-run-rollout-'));
  const store = await openFileEventStore(path.join(dir, 'events'));
  let appends = 0;
  try {
    const config = RolloutConfig.parse({ soak: 0, soakInterval: 10, checkAttempts: 1, onFailure, concurrency: 50 });
    const handle = startRollout('r1', waves, config, [0], {
      store: {
        append: (drafts) => {
          appends++;
          return store.append(drafts);
        },
        read: (since) => store.read(since),
        head: () => store.head(),
        close: () => store.close(),
      },
      logger: silentLogger(),
      drivers: new Map(hosts.map((h) => [h.name, h])),
      snapshots: new BeforeSnapshots(path.join(dir, 'before')),
      rulesetFor: () => ({ hash: 'h-new', text: 'new', program: null }),
      checksFor: () => [SSH_FAILSAFE_CHECK],
      reachabilityChecks: new Set([SSH_FAILSAFE_CHECK.name]),
    });
    const output = await handle.done;
    const events = await store.read();
    const transitions = events.filter((e): e is EventOf<'HostTransition'> => e.type === 'HostTransition');
    return { output, events, transitions, appends };
  } finally {
    await store.close();
  }
}

describe('startRollout: what lands in the event log', () => {
  it('records a host as confirmed before the next wave starts', async () => {
    const { output, transitions } = await rollout([new FakeHost('a', false), new FakeHost('b', false)], 'halt');
    expect(output.outcome).toBe('completed');
    const confirmedA = transitions.find((t) => t.host === 'a' && t.to === 'confirmed')!;
    const startedB = transitions.find((t) => t.host === 'b' && t.from === 'queued')!;
    expect(confirmedA.seq).toBeLessThan(startedB.seq);
  });

  it('says in the log why a confirmed host was undone', async () => {
    const { output, events, transitions } = await rollout([new FakeHost('a', false), new FakeHost('b', true)], 'rollback');
    expect(output.outcome).toBe('rolledBack');
    const undo = transitions.filter((t) => t.host === 'a' && t.seq > transitions.find((u) => u.host === 'a' && u.to === 'confirmed')!.seq);
    expect(undo.map((t) => t.to)).toEqual(['rollingBack', 'verifyingRollback', 'rolledBack']);
    for (const t of undo) expect(t.reason).toMatch(/^undone because a later wave failed/);
    // …and so does the projection `palisade rollout status` shows, as the machine's output does.
    expect(project(events).revisions.get('r1')!.hosts.a!.reason).toBe(output.results.a!.reason);
  });

  it('applies only once the host\'s `applying` event and what it held before are on disk', async () => {
    const dir = await tmp('palisade-run-rollout-');
    const seen: string[] = [];
    /** Looks at the disk, as a reconciler restarted at this instant would, before taking the ruleset. */
    class Watchful extends FakeHost {
      override async apply(ruleset: Ruleset) {
        const log = await openFileEventStore(path.join(dir, 'events'), { readOnly: true });
        const applying = (await log.read()).some((e) => e.type === 'HostTransition' && e.host === this.name && e.to === 'applying');
        await log.close();
        const before = await new BeforeSnapshots(path.join(dir, 'before')).get(this.name, 'r1');
        seen.push(`${this.name}: applying ${applying}, before ${JSON.stringify(before)}`);
        await super.apply(ruleset);
      }
    }
    const hosts = Array.from({ length: 10 }, (_, i) => new Watchful(`h${i}`, false));
    await hosts[3]!.restore('old table');
    const { output } = await rollout(hosts, 'halt', [{ name: 'all', hosts: hosts.map((h) => h.name) }], dir);
    expect(output.outcome).toBe('completed');
    expect(seen.sort()).toEqual(hosts.map((h) => `${h.name}: applying true, before ${JSON.stringify({ snapshot: h.name === 'h3' ? 'old table' : null })}`).sort());
  });

  it('writes the transitions of hosts running together in shared appends, in order', async () => {
    const hosts = Array.from({ length: 20 }, (_, i) => new FakeHost(`h${i}`, false));
    const { output, events, transitions, appends } = await rollout(hosts, 'halt', [{ name: 'all', hosts: hosts.map((h) => h.name) }]);
    expect(output.outcome).toBe('completed');
    expect(transitions).toHaveLength(20 * 5);
    expect(appends).toBeLessThan(transitions.length / 4);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    for (const h of hosts) expect(transitions.filter((t) => t.host === h.name).map((t) => t.to)).toEqual(['preflight', 'applying', 'verifying', 'soaking', 'confirmed']);
  });

  describe('dry runs of the next wave, ahead of it', () => {
    /** A host with a dry run; everything it is asked is written to `journal`, in order. */
    class CheckedHost extends FakeHost {
      dryRuns = 0;
      appliedChecked: boolean[] = [];
      constructor(
        name: string,
        private readonly journal: string[],
        private readonly verdicts: (string | null)[] = [],
        public interfaces: HostInterface[] = [],
      ) {
        super(name, false);
      }
      override async readInterfaces() {
        return this.interfaces;
      }
      async dryRun(): Promise<string | null> {
        this.journal.push(`dry run ${this.name}`);
        return this.verdicts[this.dryRuns++] ?? null;
      }
      override async apply(ruleset: Ruleset, known?: { checked: boolean; before: string | null }) {
        this.journal.push(`apply ${this.name}`);
        this.appliedChecked.push(known?.checked ?? false);
        await super.apply(ruleset);
      }
      override async check(check: CheckSpec) {
        this.journal.push(`check ${this.name}`);
        return super.check(check);
      }
    }

    it('start once the wave before applies, and a pass is not asked again', async () => {
      const journal: string[] = [];
      const a = new CheckedHost('a', journal);
      const b = new CheckedHost('b', journal);
      const { output } = await rollout([a, b], 'halt');
      expect(output.outcome).toBe('completed');
      expect(b.dryRuns).toBe(1);
      expect(journal.indexOf('dry run b')).toBeGreaterThan(journal.indexOf('dry run a'));
      expect(journal.indexOf('dry run b')).toBeLessThan(journal.indexOf('check b'));
      expect(b.appliedChecked).toEqual([true]);
    });

    it('a refusal seen ahead is asked again in the host\'s own preflight, whose verdict counts', async () => {
      const journal: string[] = [];
      const b = new CheckedHost('b', journal, ['nft: refused for now']);
      const { output } = await rollout([new CheckedHost('a', journal), b], 'halt');
      expect(output.outcome).toBe('completed');
      expect(b.dryRuns).toBe(2);
      expect(output.results.b?.result).toBe('confirmed');
    });

    it('interfaces changed since the dry run: the apply is checked again', async () => {
      const journal: string[] = [];
      const b = new CheckedHost('b', journal, [], [{ name: 'eth0', addresses: ['198.18.0.20'] }]);
      class Renaming extends CheckedHost {
        override async apply(ruleset: Ruleset, known?: { checked: boolean; before: string | null }) {
          b.interfaces = [{ name: 'eth1', addresses: ['198.18.0.20'] }];
          await super.apply(ruleset, known);
        }
      }
      const hosts = [new Renaming('a', journal), b];
      const dir = await tmp('palisade-run-rollout-');
      const store = await openFileEventStore(path.join(dir, 'events'));
      try {
        const config = RolloutConfig.parse({ soak: 0, soakInterval: 10, checkAttempts: 1 });
        const handle = startRollout('r1', hosts.map((h) => ({ name: h.name, hosts: [h.name] })), config, [0], {
          store,
          logger: silentLogger(),
          drivers: new Map(hosts.map((h) => [h.name, h])),
          snapshots: new BeforeSnapshots(path.join(dir, 'before')),
          // The ruleset depends on the interfaces, as a real one naming them does.
          rulesetFor: (_host, interfaces) => ({ hash: `h-${interfaces.map((i) => i.name).join()}`, text: 'new', program: null }),
          checksFor: () => [SSH_FAILSAFE_CHECK],
          reachabilityChecks: new Set([SSH_FAILSAFE_CHECK.name]),
        });
        expect((await handle.done).outcome).toBe('completed');
      } finally {
        await store.close();
      }
      expect(b.appliedChecked).toEqual([false]);
    });
  });
});
