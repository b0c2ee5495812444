import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { openFileEventStore } from '../eventlog/file-store.js';
import { isHostResult } from '../eventlog/events.js';
import { stateLayout } from '../eventlog/layout.js';
import { CONTROL_ACTIONS } from '../http/server.js';
import { project, type ReconcilerState, type RevisionProgress } from '../state/projections.js';
import { UsageError, type CommandIO } from './io.js';

const USAGE = `usage: palisade rollout status --state DIR [--watch] [--revision SHA]
       palisade rollout pause|resume|abort|retry --state DIR [--url URL] [--token TOKEN]

status   hosts × state for the current revision, its waves, and each host's last check
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
    return status(values.state, values.revision, values.watch, io);
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

async function status(stateDir: string, revision: string | undefined, watch: boolean, io: CommandIO): Promise<number> {
  const store = await openFileEventStore(stateLayout(stateDir).events, { readOnly: true });
  try {
    let p = project(await store.read());
    io.stdout.write(formatStatus(p, revision));
    while (watch && !io.signal?.aborted) {
      await new Promise((r) => setTimeout(r, 1000));
      const more = await store.read(p.lastSeq);
      if (more.length === 0) continue;
      p = project(more, p);
      io.stdout.write(`\n${formatStatus(p, revision)}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

const short = (oid: string) => oid.slice(0, 8);

/** The status screen: one revision, its waves, every host's state and last check. */
export function formatStatus(p: ReconcilerState, revision?: string): string {
  const all = [...p.revisions.values()].filter((r) => r.observedAt);
  const r: RevisionProgress | undefined = revision ? all.find((x) => x.revision.startsWith(revision)) : all.at(-1);
  if (!r) return revision ? `no revision ${revision} in the event log\n` : 'no revision in the event log yet\n';
  const outcome = r.rejected ? 'rejected (invalid, nothing applied)' : (r.outcome ?? (r.control === 'pause' ? 'paused' : 'rolling out'));
  const lines = [`revision ${short(r.revision)} "${(r.message ?? '').split('\n')[0]}" by ${r.author ?? '?'}: ${outcome}${r.attempt ? ` (attempt ${r.attempt + 1})` : ''}`];
  const waves = r.waves ?? [];
  const current = waves.findIndex((w) => w.hosts.some((h) => !r.hosts[h] || !isHostResult(r.hosts[h]!.state)));
  lines.push(`  ${'WAVE'.padEnd(10)} ${'HOST'.padEnd(14)} ${'STATE'.padEnd(18)} LAST CHECK`);
  for (const [i, w] of waves.entries()) {
    for (const host of w.hosts) {
      const h = r.hosts[host];
      const check = h?.checks?.find((c) => !c.ok && !c.preexisting) ?? h?.checks?.at(-1);
      const marker = i === current && !r.outcome ? '>' : ' ';
      lines.push(`${marker} ${w.name.padEnd(10)} ${host.padEnd(14)} ${(h?.state ?? 'queued').padEnd(18)} ${check ? `${check.ok ? 'ok' : 'FAILED'} ${check.name}: ${check.detail}` : ''}`.trimEnd());
      if (h?.reason && h.state !== 'confirmed') lines.push(`  ${''.padEnd(10)} ${''.padEnd(14)} ↳ ${h.reason}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
