import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { openFileEventStore } from '../eventlog/file-store.js';
import { stateLayout } from '../eventlog/layout.js';
import { CONTROL_ACTIONS } from '../http/server.js';
import { isFinished, project, revisionOutcome } from '../state/projections.js';
import { emptyStatus, foldStatus } from '../status/model.js';
import { RevisionView, StatusView, type HostInRevision } from '../status/schema.js';
import { findRevision, revisionView } from '../status/view.js';
import { parseCommand, pickSubcommand } from './args.js';
import { formatDuration } from './events.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade rollout status --state DIR [--watch] [--revision SHA] [-o text|json] [--token TOKEN]
       palisade rollout wait   --state DIR [--revision SHA] [--timeout D]
       palisade rollout pause|resume|abort|retry --state DIR [--url URL] [--token TOKEN]

status   hosts × state for the newest revision, its waves, each host's last check, and the soak
         time left — from the running reconciler's status API, else from the event log;
         --watch redraws it in place on a terminal until Ctrl-C
wait     wait until the revision (default: the newest; SHA may not be seen yet) has finished;
         for scripts. Exit status:
           0 completed            3 halted          4 rolled back     5 rejected (invalid)
           6 aborted              7 superseded      8 --timeout reached
           1 the event log could not be read       2 usage error
pause    finish the hosts in flight, start no new ones until 'resume'
resume   continue a paused rollout
abort    finish the hosts in flight, then stop the rollout (later waves untouched)
retry    roll the newest revision out again after it failed (it is otherwise pinned as bad)

Control requests go to the running 'palisade reconcile' (its address is in DIR/http.json, or
--url). A reconciler started with PALISADE_CONTROL_TOKEN requires it on every request, local
ones too: pass --token, or set PALISADE_CONTROL_TOKEN here as well. They exit 0 when accepted,
1 when refused or the reconciler does not answer.`;

const SUBCOMMANDS = ['status', 'wait', ...CONTROL_ACTIONS] as const;
const STATUS = {
  name: 'rollout status',
  usage: USAGE,
  options: { state: { type: 'string' }, watch: { type: 'boolean', short: 'w' }, revision: { type: 'string' }, token: { type: 'string' } },
  output: { formats: ['text', 'json'] },
} as const;
const WAIT = { name: 'rollout wait', usage: USAGE, options: { state: { type: 'string' }, revision: { type: 'string' }, timeout: { type: 'duration' } } } as const;
const CONTROL = { usage: USAGE, options: { state: { type: 'string' }, url: { type: 'string' }, token: { type: 'string' } } } as const;

/** `rollout wait`'s exit status for each way a revision can end. */
export const WAIT_EXIT = { completed: 0, halted: 3, rolledBack: 4, rejected: 5, aborted: 6, superseded: 7, timeout: 8 } as const;

export async function runRollout(argv: string[], io: CommandIO): Promise<number> {
  const picked = pickSubcommand(argv, { name: 'rollout', usage: USAGE, subcommands: SUBCOMMANDS }, io);
  if (typeof picked === 'number') return picked;
  const { sub: action, rest } = picked;
  if (action === 'status') {
    const args = parseCommand(rest, STATUS, io);
    if (!args) return 0;
    if (!args.values.state) throw new UsageError('rollout status needs --state DIR', undefined, 'rollout status');
    return status(args.values.state, args.values.revision, args.values.watch, args.output === 'json', args.values.token ?? process.env.PALISADE_CONTROL_TOKEN, io);
  }
  if (action === 'wait') {
    const args = parseCommand(rest, WAIT, io);
    if (!args) return 0;
    if (!args.values.state) throw new UsageError('rollout wait needs --state DIR', undefined, 'rollout wait');
    return wait(args.values.state, args.values.revision, args.values.timeout, io);
  }
  const args = parseCommand(rest, { ...CONTROL, name: `rollout ${action}` }, io);
  if (!args) return 0;
  const values = args.values;
  const url = values.url ?? (values.state ? await endpointOf(values.state) : undefined);
  if (!url) throw new UsageError(`rollout ${action} needs --state DIR of a running reconciler, or --url`, undefined, `rollout ${action}`);
  const token = values.token ?? process.env.PALISADE_CONTROL_TOKEN;
  let response: Response;
  try {
    response = await fetch(`${url}/rollout/${action}`, {
      method: 'POST',
      headers: { 'x-palisade-user': `${os.userInfo().username}@${os.hostname()}`, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      signal: AbortSignal.timeout(10_000),
    });
  } catch (e) {
    io.stderr.write(`palisade rollout ${action}: the reconciler at ${url} did not answer (${(e as Error).message}); is 'palisade reconcile' running?\n`);
    return 1;
  }
  const text = (await response.text()).trim();
  (response.ok ? io.stdout : io.stderr).write(`${text}\n`);
  return response.ok ? 0 : 1;
}

async function endpointOf(stateDir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await readFile(stateLayout(stateDir).endpoint, 'utf8')) as { url: string }).url;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * Reads one revision as the status model has it: from the running reconciler's API when there is
 * one (DIR/http.json), otherwise folded from the event log (kept open and folded forward, for
 * --watch). The newest commit when none is asked for.
 */
function revisionReader(stateDir: string, token: string | undefined) {
  let store: Awaited<ReturnType<typeof openFileEventStore>> | null = null;
  let model = emptyStatus();
  const fromApi = async (url: string, revision: string | undefined): Promise<RevisionView | null | undefined> => {
    const get = (path: string) => fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
    try {
      const id = revision ?? StatusView.parse(await (await get('/api/v1/status')).json()).latest?.revision;
      if (!id) return null;
      const res = await get(`/api/v1/revisions/${encodeURIComponent(id)}`);
      if (res.status === 401) throw new UsageError('the running reconciler requires its control token: pass --token, or set PALISADE_CONTROL_TOKEN', undefined, 'rollout status');
      return res.status === 404 ? null : RevisionView.parse(await res.json());
    } catch (e) {
      if (e instanceof UsageError) throw e;
      // A stale http.json (the reconciler stopped): the log says the same.
      return undefined;
    }
  };
  return {
    async read(revision: string | undefined): Promise<RevisionView | null> {
      const url = await endpointOf(stateDir);
      const answer = url ? await fromApi(url, revision) : undefined;
      if (answer !== undefined) return answer;
      store ??= await openFileEventStore(stateLayout(stateDir).events, { readOnly: true });
      model = foldStatus(await store.read(model.lastSeq), model);
      const r = revision ? findRevision(model, revision) : (model.revisions[model.order.at(-1) ?? ''] ?? null);
      return r ? revisionView(r) : null;
    },
    close: async () => {
      await store?.close();
    },
  };
}

async function status(stateDir: string, revision: string | undefined, watch: boolean, json: boolean, token: string | undefined, io: CommandIO): Promise<number> {
  const reader = revisionReader(stateDir, token);
  try {
    let view = await reader.read(revision);
    const render = () => (json ? `${JSON.stringify(statusRecord(view, Date.now()))}\n` : formatStatus(view, revision, Date.now()));
    // On a terminal the screen is redrawn in place (and every second, for the soak clock);
    // elsewhere a new screen is appended only when something changed.
    const inPlace = watch && !json && io.stdout.isTTY === true;
    let shown = render();
    io.stdout.write(shown);
    while (watch && !io.signal?.aborted) {
      await sleep(1000, io.signal);
      view = await reader.read(revision);
      const next = render();
      if (next === shown) continue;
      io.stdout.write(inPlace ? `\x1b[${shown.split('\n').length - 1}F\x1b[J${next}` : `\n${next}`);
      shown = next;
    }
    return 0;
  } finally {
    await reader.close();
  }
}

/** Waits, polling the event log read-only, until the revision has finished; its outcome is the exit status. */
async function wait(stateDir: string, revision: string | undefined, timeoutMs: number | undefined, io: CommandIO): Promise<number> {
  const store = await openFileEventStore(stateLayout(stateDir).events, { readOnly: true });
  const deadline = timeoutMs === undefined ? Infinity : Date.now() + timeoutMs;
  try {
    let p = project(await store.read());
    const target = revision ?? [...p.revisions.values()].filter((r) => r.observedAt).at(-1)?.revision;
    for (;;) {
      const r = target === undefined ? [...p.revisions.values()].find((x) => x.observedAt) : [...p.revisions.values()].find((x) => x.revision.startsWith(target));
      if (r && isFinished(r)) {
        const outcome = r.rejected ? 'rejected' : r.outcome!;
        io.stdout.write(`${short(r.revision)}: ${outcome}${r.failedHosts.length ? ` (failed: ${r.failedHosts.join(', ')})` : ''}\n`);
        return WAIT_EXIT[outcome];
      }
      if (Date.now() >= deadline || io.signal?.aborted) {
        io.stderr.write(`palisade rollout wait: ${target ? short(target) : 'no revision'} ${r ? `still ${revisionOutcome(r)}` : 'not seen yet'} after ${timeoutMs === undefined ? 'being stopped' : `${timeoutMs / 1000} s`}\n`);
        return WAIT_EXIT.timeout;
      }
      await sleep(Math.min(500, deadline - Date.now()), io.signal);
      p = project(await store.read(p.lastSeq), p);
    }
  } finally {
    await store.close();
  }
}

const short = (oid: string) => oid.slice(0, 8);

/** Soak time left, while a host soaks and the reconciler said when the soak ends. */
const soakLeftMs = (h: HostInRevision, now: number): number | undefined => (h.state === 'soaking' && h.soakUntil !== undefined ? Math.max(0, h.soakUntil - now) : undefined);

function hostState(h: HostInRevision, now: number): string {
  const left = soakLeftMs(h, now);
  return left === undefined ? h.state : `soaking ${formatDuration(Math.ceil(left / 1000) * 1000)} left`;
}

/** The words `palisade history` uses for where a revision stands. */
const OUTCOME: Record<string, string> = { rollingOut: 'rolling-out', paused: 'rolling-out' };

/** `rollout status -o json`: the same screen as data. */
export function statusRecord(r: RevisionView | null, now: number) {
  if (!r) return { revision: null };
  return {
    revision: r.revision,
    author: r.author,
    message: r.message,
    outcome: OUTCOME[r.phase] ?? r.phase,
    attempt: r.attempt,
    paused: r.phase === 'paused',
    waves: r.waves.map((w) => ({
      name: w.name,
      hosts: w.hosts.map((h) => ({ host: h.name, state: h.state, reason: h.reason ?? null, soakLeftMs: soakLeftMs(h, now) ?? null, checks: h.checks ?? [] })),
    })),
  };
}

const PHASE: Record<string, string> = { rejected: 'rejected (invalid, nothing applied)', rollingOut: 'rolling out', observed: 'not started' };

/** The status screen: one revision, its waves, every host's state and last check. */
export function formatStatus(r: RevisionView | null, asked?: string, now = Date.now()): string {
  if (!r) return asked ? `no revision ${asked} in the event log\n` : 'no revision in the event log yet\n';
  const lines = [`revision ${short(r.revision)} "${(r.message ?? '').split('\n')[0]}" by ${r.author ?? '?'}: ${PHASE[r.phase] ?? r.phase}${r.attempt ? ` (attempt ${r.attempt + 1})` : ''}`];
  const current = r.waves.findIndex((w) => w.state === 'pending' || w.state === 'running');
  lines.push(`  ${'WAVE'.padEnd(10)} ${'HOST'.padEnd(14)} ${'STATE'.padEnd(18)} LAST CHECK`);
  for (const [i, w] of r.waves.entries()) {
    for (const h of w.hosts) {
      const check = h.checks?.find((c) => !c.ok && !c.preexisting) ?? h.checks?.at(-1);
      const marker = i === current && !r.outcome ? '>' : ' ';
      lines.push(`${marker} ${w.name.padEnd(10)} ${h.name.padEnd(14)} ${hostState(h, now).padEnd(18)} ${check ? `${check.ok ? 'ok' : 'FAILED'} ${check.name}: ${check.detail}` : ''}`.trimEnd());
      if (h.reason && h.state !== 'confirmed') lines.push(`  ${''.padEnd(10)} ${''.padEnd(14)} ↳ ${h.reason}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
