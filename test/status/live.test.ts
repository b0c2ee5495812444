import { describe, expect, it } from 'vitest';
import type { PalisadeEvent } from '../../src/eventlog/events.js';
import { foldStatus } from '../../src/status/model.js';
import { FLEET, GOOD_FILES, LOCKOUT_FILES, statusFleet } from '../support/status-fleet.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();

describe('status model in the reconciler', () => {
  it('is current with every event as it becomes durable, equals a fold of the log, and survives a restart (snapshot + replay)', async () => {
    const fleet = await statusFleet(await tmp('palisade-status-live-'));
    try {
      const reconciler = fleet.reconciler();
      await reconciler.load();
      const seen: PalisadeEvent[] = [];
      const statesOfA: string[] = [];
      reconciler.subscribe((events) => {
        seen.push(...events);
        // While the rollout runs, not only once it is over.
        statesOfA.push(reconciler.status.hosts['node-a']?.state ?? 'none');
      });
      const good = await fleet.repo.commit(GOOD_FILES(), 'good');
      expect(await reconciler.reconcile()).toEqual([{ revision: good, outcome: 'completed', failedHosts: [] }]);
      const bad = await fleet.repo.commit(LOCKOUT_FILES, 'lockout');
      expect(await reconciler.reconcile()).toEqual([{ revision: bad, outcome: 'halted', failedHosts: ['node-a'] }]);

      const log = await fleet.store.read();
      // Every event once, in sequence order.
      expect(seen.map((e) => e.seq)).toEqual(log.map((e) => e.seq));
      expect(statesOfA).toContain('applying');
      expect(statesOfA.indexOf('applying')).toBeLessThan(statesOfA.indexOf('confirmed'));
      expect(reconciler.status).toEqual(foldStatus(log));
      expect(reconciler.status.hosts['node-a']).toMatchObject({ revision: good, state: 'rolledBack' });
      expect(FLEET.map((h) => reconciler.status.hosts[h]!.revision)).toEqual([good, good, good]);

      // snapshotEvery is 5: the restart starts from a snapshot and replays the rest.
      const restarted = fleet.reconciler();
      const { fromSnapshot } = await restarted.load();
      expect(fromSnapshot).toBeGreaterThan(0);
      expect(restarted.status).toEqual(reconciler.status);
    } finally {
      await fleet.close();
    }
  });
});
