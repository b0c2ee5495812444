import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runRollout } from '../../src/cli/rollout.js';
import { StatusView } from '../../src/status/schema.js';
import { TestRepo } from '../support/repo.js';
import { FLEET, GOOD_FILES, LOCKOUT_FILES } from '../support/status-fleet.js';
import { useTmpDirs } from '../support/tmp.js';
import { until } from '../support/until.js';

/**
 * `palisade reconcile` as a process: /metrics is derived from the status model, so a restart
 * (which rebuilds the model from the log) changes no value; `palisade rollout status` shows the
 * same model from the API while the reconciler runs and from the log once it is gone.
 */

const tmp = useTmpDirs();
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
});


/** The metrics the status model derives (the process's own, and measured durations, are left out). */
const FROM_MODEL = /^palisade_(commits_seen|events_appended|eventlog_size|hosts|host_info|rollouts|host_rollbacks|drift_detected|apply_duration|check_duration)/;
const modelMetrics = (text: string) => text.split('\n').filter((l) => FROM_MODEL.test(l));

const captured = () => {
  const out = { text: '' };
  return { out, io: { stdout: { write: (s: string) => (out.text += s) }, stderr: { write: (s: string) => (out.text += s) } } };
};

describe('status model across a restart of palisade reconcile', () => {
  it('metrics equal before and after the restart; rollout status reads the same model from the API and from the log', async () => {
    const work = await tmp('palisade-status-restart-');
    const repo = await TestRepo.create(path.join(work, 'repo'));
    const state = path.join(work, 'state');
    const hostsFile = path.join(work, 'hosts.json');
    await writeFile(
      hostsFile,
      JSON.stringify({
        management: { address: '198.18.0.1' },
        hosts: FLEET.map((name, i) => ({ kind: 'simulated', name, address: `198.18.0.${11 + i}`, interfaces: [{ name: 'eth0', addresses: [`198.18.0.${11 + i}`] }] })),
      }),
    );
    const start = async () => {
      await rm(path.join(state, 'http.json'), { force: true });
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'reconcile', '--repo', repo.dir, '--state', state, '--hosts', hostsFile, '--poll-interval', '100', '--listen', '127.0.0.1:0'], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr!.resume();
      children.push(child);
      const url = await until('the HTTP endpoint', async () => (JSON.parse(await readFile(path.join(state, 'http.json'), 'utf8')) as { url: string }).url);
      return { child, url };
    };
    const status = async (url: string) => StatusView.parse(await (await fetch(`${url}/api/v1/status`)).json());

    const good = await repo.commit(GOOD_FILES(), 'good');
    const first = await start();
    await until('the good rollout', async () => ((await status(first.url)).current?.phase === 'completed' ? true : undefined));
    const bad = await repo.commit(LOCKOUT_FILES, 'lockout');
    await until('the lockout to be halted', async () => ((await status(first.url)).current?.phase === 'halted' ? true : undefined));

    const before = await (await fetch(`${first.url}/metrics`)).text();
    const viaApi = captured();
    expect(await runRollout(['status', '--state', state], viaApi.io)).toBe(0);
    expect(viaApi.out.text).toMatch(new RegExp(`^revision ${bad.slice(0, 8)} "lockout" by .*: halted`));
    expect(viaApi.out.text).toMatch(/canary\s+node-a\s+rolledBack\s+FAILED ssh-from-management: .*expected open/);

    first.child.kill('SIGTERM');
    await new Promise((r) => first.child.once('exit', r));
    const viaLog = captured();
    expect(await runRollout(['status', '--state', state], viaLog.io)).toBe(0);
    expect(viaLog.out.text).toBe(viaApi.out.text);

    const second = await start();
    const after = await (await fetch(`${second.url}/metrics`)).text();
    expect(modelMetrics(after)).toEqual(modelMetrics(before));
    // What the model says, as metrics.
    const lines = modelMetrics(before);
    expect(lines).toContain('palisade_rollouts_total{outcome="completed"} 1');
    expect(lines).toContain('palisade_rollouts_total{outcome="halted"} 1');
    expect(lines).toContain('palisade_host_rollbacks_total 1');
    expect(lines).toContain('palisade_drift_detected_total 0');
    expect(lines).toContain('palisade_commits_seen_total 2');
    expect(lines).toContain(`palisade_host_info{host="node-a",revision="${good}",state="rolledBack"} 1`);
    expect(lines).toContain(`palisade_host_info{host="node-b",revision="${good}",state="confirmed"} 1`);
    expect(lines).toContain('palisade_hosts{state="confirmed"} 2');
    expect(lines.find((l) => l.startsWith('palisade_eventlog_size_bytes '))).toMatch(/ [1-9]\d+$/);
    expect(lines.find((l) => l.startsWith('palisade_apply_duration_seconds_count{outcome="applied"}'))).toMatch(/ 4$/);
  });
});
