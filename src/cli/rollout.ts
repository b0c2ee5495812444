import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { openFileEventStore } from '../eventlog/file-store.js';
import { stateLayout } from '../eventlog/layout.js';
import { CONTROL_ACTIONS } from '../http/server.js';
import { foldStatus } from '../status/model.js';
import { RevisionView, StatusView } from '../status/schema.js';
import { findRevision, revisionView } from '../status/view.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade rollout status --state DIR [--watch] [--revision SHA] [--token TOKEN]
       palisade rollout pause|resume|abort|retry --state DIR [--url URL] [--token TOKEN]

status   hosts × state for the newest revision (or --revision), its waves, and each host's last
         check: from the running reconciler's status API, else from the event log
pause    finish the hosts in flight, start no new ones until 'resume'
resume   continue a paused rollout
abort    finish the hosts in flight, then stop the rollout (later waves untouched)
retry    roll the newest revision out again after it failed (it is otherwise pinned as bad)

Control requests go to the running 'palisade reconcile' (its address is in DIR/http.json, or
--url). A reconciler started with PALISADE_CONTROL_TOKEN requires it on every request, local
ones too: pass --token, or set PALISADE_CONTROL_TOKEN here as well.`;

export async function runRollout(argv: string[], io: CommandIO): Promise<number> {
  const [action, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      state: { type: 'string' },
      watch: { type: 'boolean', default: false },
      revision: { type: 'string' },
      url: { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || !action) {
    io.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  if (action === 'status') {
    if (!values.state) throw new UsageError(`rollout status needs --state DIR\n\n${USAGE}`);
    return status(values.state, values.revision, values.watch, values.token ?? process.env.PALISADE_CONTROL_TOKEN, io);
  }
  if (!(CONTROL_ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown rollout action '${action}'\n\n${USAGE}`);
  const url = values.url ?? (values.state ? await endpointOf(values.state) : undefined);
  if (!url) throw new UsageError(`rollout ${action} needs --state DIR of a running reconciler, or --url`);
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

/**
 * One revision as the status model has it: from the running reconciler's API when there is one
 * (DIR/http.json), otherwise folded from the event log. The newest commit when none is asked for.
 */
async function readRevision(stateDir: string, revision: string | undefined, token: string | undefined): Promise<RevisionView | null> {
  const url = await endpointOf(stateDir);
  if (url) {
    const get = (path: string) => fetch(`${url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(5000) });
    const answer = await (async () => {
      const id = revision ?? StatusView.parse(await (await get('/api/v1/status')).json()).latest?.revision;
      if (!id) return null;
      const res = await get(`/api/v1/revisions/${encodeURIComponent(id)}`);
      if (res.status === 401) throw new UsageError('the running reconciler requires its control token: pass --token, or set PALISADE_CONTROL_TOKEN');
      return res.status === 404 ? null : RevisionView.parse(await res.json());
    })().catch((e: unknown) => {
      if (e instanceof UsageError) throw e;
      // A stale http.json (the reconciler stopped): the log says the same.
      return undefined;
    });
    if (answer !== undefined) return answer;
  }
  const store = await openFileEventStore(stateLayout(stateDir).events, { readOnly: true });
  try {
    const model = foldStatus(await store.read());
    const r = revision ? findRevision(model, revision) : (model.revisions[model.order.at(-1) ?? ''] ?? null);
    return r ? revisionView(r) : null;
  } finally {
    await store.close();
  }
}

async function status(stateDir: string, revision: string | undefined, watch: boolean, token: string | undefined, io: CommandIO): Promise<number> {
  let shown = formatStatus(await readRevision(stateDir, revision, token), revision);
  io.stdout.write(shown);
  while (watch && !io.signal?.aborted) {
    await new Promise((r) => setTimeout(r, 1000));
    const next = formatStatus(await readRevision(stateDir, revision, token), revision);
    if (next !== shown) io.stdout.write(`\n${next}`);
    shown = next;
  }
  return 0;
}

const short = (oid: string) => oid.slice(0, 8);

const PHASE: Record<string, string> = { rejected: 'rejected (invalid, nothing applied)', rollingOut: 'rolling out', observed: 'not started' };

/** The status screen: one revision, its waves, every host's state and last check. */
export function formatStatus(r: RevisionView | null, asked?: string): string {
  if (!r) return asked ? `no revision ${asked} in the event log\n` : 'no revision in the event log yet\n';
  const lines = [`revision ${short(r.revision)} "${(r.message ?? '').split('\n')[0]}" by ${r.author ?? '?'}: ${PHASE[r.phase] ?? r.phase}${r.attempt ? ` (attempt ${r.attempt + 1})` : ''}`];
  const current = r.waves.findIndex((w) => w.state === 'pending' || w.state === 'running');
  lines.push(`  ${'WAVE'.padEnd(10)} ${'HOST'.padEnd(14)} ${'STATE'.padEnd(18)} LAST CHECK`);
  for (const [i, w] of r.waves.entries()) {
    for (const h of w.hosts) {
      const check = h.checks?.find((c) => !c.ok && !c.preexisting) ?? h.checks?.at(-1);
      const marker = i === current && !r.outcome ? '>' : ' ';
      lines.push(`${marker} ${w.name.padEnd(10)} ${h.name.padEnd(14)} ${h.state.padEnd(18)} ${check ? `${check.ok ? 'ok' : 'FAILED'} ${check.name}: ${check.detail}` : ''}`.trimEnd());
      if (h.reason && h.state !== 'confirmed') lines.push(`  ${''.padEnd(10)} ${''.padEnd(14)} ↳ ${h.reason}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
