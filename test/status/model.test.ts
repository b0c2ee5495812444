import { describe, expect, it } from 'vitest';
import { PalisadeEvent, type EventDraft } from '../../src/eventlog/events.js';
import { applyStatusEvent, emptyStatus, foldStatus } from '../../src/status/model.js';
import type { Condition } from '../../src/status/schema.js';
import { findRevision, hostConditions, revisionView, statusView } from '../../src/status/view.js';

/** Events as the store would hand them back: numbered, timed one second apart, schema-checked. */
function log() {
  const events: PalisadeEvent[] = [];
  const t0 = Date.parse('2026-12-01T10:00:00.000Z');
  const add = (d: EventDraft) => {
    const seq = events.length + 1;
    events.push(PalisadeEvent.parse({ ...d, seq, version: 1, time: new Date(t0 + seq * 1000).toISOString() }));
  };
  const commit = (revision: string, message: string) =>
    add({ type: 'CommitObserved', revision, key: `${revision}:observed`, parent: null, author: 'Ada <ada@example.org>', message, committedAt: '2026-12-01T09:00:00Z' });
  const started = (revision: string, waves: [string, string[]][]) => add({ type: 'RolloutStarted', revision, key: `${revision}:started`, waves: waves.map(([name, hosts]) => ({ name, hosts })) });
  const step = (revision: string, host: string, wave: number, path: string[], extra: Partial<Extract<EventDraft, { type: 'HostTransition' }>> = {}) => {
    for (let i = 1; i < path.length; i++) add({ type: 'HostTransition', revision, key: `${revision}:${host}:${events.length}`, host, wave, from: path[i - 1]!, to: path[i]!, ...(i === path.length - 1 ? extra : {}) });
  };
  const finished = (revision: string, outcome: 'completed' | 'halted' | 'rolledBack', failedHosts: string[] = []) =>
    add({ type: 'RolloutFinished', revision, key: `${revision}:finished`, outcome, failedHosts, durationMs: 4000 });
  return { events, add, commit, started, step, finished };
}

const GOOD = 'a'.repeat(40);
const BAD = 'b'.repeat(40);
const sshFailed = { name: 'ssh-from-management', ok: false, detail: 'ssh/22 from management to node-a (198.18.0.11): closed (timed out after 2000 ms), expected open', durationMs: 2000 };
const sshOk = { name: 'ssh-from-management', ok: true, detail: 'ssh/22 open', durationMs: 12 };
const byType = (cs: Condition[]) => Object.fromEntries(cs.map((c) => [c.type, `${c.status} ${c.reason}`]));
const CONFIRM = ['queued', 'preflight', 'applying', 'verifying', 'soaking', 'confirmed'];

function goodThenBad() {
  const l = log();
  l.commit(GOOD, 'open web');
  l.started(GOOD, [['canary', ['node-a']], ['rest', ['node-b', 'node-c']]]);
  l.step(GOOD, 'node-a', 0, CONFIRM, { checks: [sshOk] });
  l.step(GOOD, 'node-b', 1, CONFIRM, { checks: [sshOk] });
  l.step(GOOD, 'node-c', 1, CONFIRM, { checks: [sshOk] });
  l.finished(GOOD, 'completed');
  l.commit(BAD, 'cut ssh');
  l.started(BAD, [['canary', ['node-a']], ['rest', ['node-b', 'node-c']]]);
  l.step(BAD, 'node-a', 0, ['queued', 'preflight', 'applying', 'verifying', 'rollingBack'], { reason: `checks failed after apply: ${sshFailed.name}: ${sshFailed.detail}`, checks: [sshFailed] });
  l.step(BAD, 'node-a', 0, ['rollingBack', 'verifyingRollback', 'rolledBack'], { reason: `checks failed after apply: ${sshFailed.name}: ${sshFailed.detail}`, checks: [sshOk] });
  l.finished(BAD, 'halted', ['node-a']);
  return l;
}

describe('status model: a projection of the event log', () => {
  it('follows a rollout while it runs: per host the state, since when, its checks; per wave its progress', () => {
    const l = log();
    l.commit(GOOD, 'open web\n\nbody');
    l.started(GOOD, [['canary', ['node-a']], ['rest', ['node-b', 'node-c']]]);
    l.step(GOOD, 'node-a', 0, CONFIRM, { checks: [sshOk] });
    l.step(GOOD, 'node-b', 1, ['queued', 'preflight', 'applying']);
    const m = foldStatus(l.events);
    const view = statusView(m, Date.parse('2026-12-01T11:00:00Z'));
    expect(view.lastSeq).toBe(l.events.length);
    expect(view.current?.phase).toBe('rollingOut');
    expect(view.current?.waves.map((w) => `${w.name}:${w.state}`)).toEqual(['canary:done', 'rest:running']);
    expect(view.current?.waves[1]!.hosts.map((h) => `${h.name}:${h.state}`)).toEqual(['node-b:applying', 'node-c:queued']);
    const [a, b] = view.hosts;
    expect(a).toMatchObject({ name: 'node-a', revision: GOOD, state: 'confirmed', checks: [sshOk] });
    expect(b).toMatchObject({ name: 'node-b', revision: null, state: 'applying', since: l.events.at(-1)!.time });
    expect(byType(a!.conditions)).toEqual({ Ready: 'True Confirmed', Progressing: 'False Settled', Degraded: 'False Healthy', Stalled: 'False NotStalled' });
    expect(byType(b!.conditions)).toMatchObject({ Ready: 'False Progressing', Progressing: 'True Applying' });
    // node-c has no event yet: it is not a host of the model, but it is queued in the revision.
    expect(view.hosts).toHaveLength(2);
  });

  it('a rolled-back canary: the previous revision held again, Degraded and Stalled with the reason, the failing check named', () => {
    const m = foldStatus(goodThenBad().events);
    const bad = revisionView(m.revisions[BAD]!);
    expect(bad).toMatchObject({ phase: 'halted', outcome: 'halted', durationMs: 4000, message: 'cut ssh' });
    expect(bad.waves.map((w) => w.state)).toEqual(['failed', 'pending']);
    expect(bad.failing).toEqual([{ host: 'node-a', state: 'rolledBack', reason: expect.stringMatching(/^checks failed after apply: ssh-from-management/), checks: [{ name: sshFailed.name, detail: sshFailed.detail }] }]);
    const a = m.hosts['node-a']!;
    expect(a).toMatchObject({ revision: GOOD, state: 'rolledBack', stateRevision: BAD, previous: GOOD });
    const current = m.revisions[BAD]!;
    expect(byType(hostConditions(a, current))).toEqual({ Ready: 'False RolledBack', Progressing: 'False Settled', Degraded: 'True RolledBack', Stalled: 'True RolledBack' });
    expect(hostConditions(a, current).find((c) => c.type === 'Degraded')!.message).toMatch(/^rolled back to aaaaaaaa: checks failed after apply: ssh-from-management/);
    // The other hosts still hold the good revision; the halted rollout never reached them.
    expect(m.hosts['node-b']).toMatchObject({ revision: GOOD, state: 'confirmed' });
    expect(byType(hostConditions(m.hosts['node-b']!, current))).toMatchObject({ Ready: 'False NotRolledOut', Stalled: 'True RolloutHalted' });
    expect(m.counters).toMatchObject({ commits: 2, rollouts: { completed: 1, halted: 1 }, hostRollbacks: 1, drift: 0 });
  });

  it('the failing checks while the host is being rolled back are the ones that failed, not the post-rollback ones', () => {
    const l = goodThenBad();
    const upToRollback = l.events.findIndex((e) => e.type === 'HostTransition' && e.revision === BAD && e.to === 'rollingBack');
    const m = foldStatus(l.events.slice(0, upToRollback + 1));
    expect(revisionView(m.revisions[BAD]!).failing).toEqual([]);
    expect(m.revisions[BAD]!.hosts['node-a']!.failedChecks).toEqual([{ name: sshFailed.name, detail: sshFailed.detail }]);
    expect(m.revisions[BAD]!.hosts['node-a']!.checks).toEqual([sshFailed]);
    expect(byType(hostConditions(m.hosts['node-a']!, m.revisions[BAD]!))).toMatchObject({ Progressing: 'True RollingBack' });
  });

  it('an undo (onFailure: rollback) returns a confirmed host to what it held before the revision', () => {
    const l = log();
    l.commit(GOOD, 'one');
    l.started(GOOD, [['all', ['node-a']]]);
    l.step(GOOD, 'node-a', 0, CONFIRM);
    l.finished(GOOD, 'completed');
    l.commit(BAD, 'two');
    l.started(BAD, [['canary', ['node-a']], ['rest', ['node-b']]]);
    l.step(BAD, 'node-a', 0, CONFIRM);
    l.step(BAD, 'node-b', 1, ['queued', 'preflight', 'applying', 'verifying', 'rollingBack', 'verifyingRollback', 'rolledBack'], { reason: 'checks failed after apply' });
    l.add({ type: 'HostResumed', revision: BAD, key: 'resumed', host: 'node-a', wave: 0, from: 'confirmed', cause: 'undo', reason: 'undone because a later wave failed' });
    l.step(BAD, 'node-a', 0, ['queued', 'rollingBack', 'verifyingRollback', 'rolledBack'], { reason: 'undone because a later wave failed' });
    l.finished(BAD, 'rolledBack', ['node-b']);
    const m = foldStatus(l.events);
    expect(m.hosts['node-a']).toMatchObject({ revision: GOOD, state: 'rolledBack' });
    expect(m.hosts['node-b']).toMatchObject({ revision: null, state: 'rolledBack' });
    expect(m.counters.hostRollbacks).toBe(2);
    expect(m.counters.events.HostResumed).toBe(1);
    expect(revisionView(m.revisions[BAD]!).failing.map((f) => f.host)).toEqual(['node-a', 'node-b']);
  });

  it('a retry starts the revision over, and a rejected commit carries its errors', () => {
    const l = goodThenBad();
    l.add({ type: 'RolloutControl', revision: BAD, key: 'retry', action: 'retry', by: 'ops@host' });
    const REJ = 'c'.repeat(40);
    l.commit(REJ, 'typo');
    l.add({ type: 'CommitRejected', revision: REJ, key: 'rej', errors: [{ code: 'SCHEMA', file: 'web.yaml', line: 3, col: 5, field: 'spec.order', message: 'expected a number' }] });
    const m = foldStatus(l.events);
    expect(revisionView(m.revisions[BAD]!)).toMatchObject({ phase: 'observed', attempt: 1, waves: [], failing: [], durationMs: null, control: { action: 'retry', by: 'ops@host' } });
    expect(revisionView(m.revisions[REJ]!)).toMatchObject({ phase: 'rejected', errors: [{ file: 'web.yaml', line: 3, field: 'spec.order' }] });
    const view = statusView(m, 0);
    expect(view.latest).toMatchObject({ revision: REJ, phase: 'rejected' });
    // The page's "current" is the newest revision that has a rollout: the good one, after the retry reset the bad one.
    expect(view.current?.revision).toBe(GOOD);
    expect(view.revisions.map((r) => r.phase)).toEqual(['rejected', 'observed', 'completed']);
    expect(m.counters.rollouts).toEqual({ completed: 1, halted: 1, rejected: 1 });
  });

  it('drift: counted, remembered on the host, Degraded only when it could not be restored', () => {
    const l = goodThenBad();
    l.add({ type: 'DriftDetected', revision: GOOD, key: 'd1', host: 'node-b', details: 'chain filter-input has different rules', restored: true });
    l.add({ type: 'DriftDetected', revision: GOOD, key: 'd2', host: 'node-c', details: 'missing chain filter-input', restored: false });
    const m = foldStatus(l.events);
    expect(m.counters.drift).toBe(2);
    expect(m.hosts['node-b']!.drift).toMatchObject({ restored: true });
    expect(byType(hostConditions(m.hosts['node-b']!, m.revisions[GOOD]!))).toMatchObject({ Ready: 'True Confirmed', Degraded: 'False Healthy' });
    expect(byType(hostConditions(m.hosts['node-c']!, m.revisions[GOOD]!))).toMatchObject({ Degraded: 'True DriftNotRestored' });
    // A drift event never opens a revision of its own.
    expect(Object.keys(m.revisions).sort()).toEqual([GOOD, BAD]);
  });

  it('finds a revision by an unambiguous prefix only', () => {
    const m = foldStatus(goodThenBad().events);
    expect(findRevision(m, 'aaaa')?.revision).toBe(GOOD);
    expect(findRevision(m, BAD)?.revision).toBe(BAD);
    expect(findRevision(m, 'cccc')).toBeNull();
    const twin = 'a'.repeat(39) + 'f';
    applyStatusEvent(m, PalisadeEvent.parse({ type: 'CommitObserved', revision: twin, key: 'x', parent: null, author: 'a', message: 'm', committedAt: '', seq: 99, version: 1, time: '2026-12-01T12:00:00Z' }));
    expect(findRevision(m, 'aaaa')).toBeNull();
  });

  it('folding in two halves through a JSON snapshot gives the same model as one fold', () => {
    const { events } = goodThenBad();
    for (let cut = 0; cut <= events.length; cut++) {
      const half = JSON.parse(JSON.stringify(foldStatus(events.slice(0, cut), emptyStatus())));
      expect(foldStatus(events.slice(cut), half), `cut at ${cut}`).toEqual(foldStatus(events));
    }
  });

  it('records apply and check durations from the events (what /metrics reports after a restart too)', () => {
    const m = foldStatus(goodThenBad().events);
    // Four applies, each one second (events are one second apart): three applied, one applied then failed verification.
    expect(m.durations.apply.applied).toMatchObject({ count: 4, sum: 4 });
    expect(m.durations.check['ssh-from-management failed']).toMatchObject({ count: 1, sum: 2 });
    expect(m.durations.check['ssh-from-management ok']!.count).toBe(4);
  });
});
