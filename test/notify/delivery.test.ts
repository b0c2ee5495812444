import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { openFileEventStore, type FileEventStore } from '../../src/eventlog/file-store.js';
import { stateLayout } from '../../src/eventlog/layout.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { SimulatedHost } from '../../src/hosts/simulated-host.js';
import { verifySignature } from '../../src/http/signature.js';
import { LAB_SERVICES } from '../../src/lab/lab.js';
import { createLogger, type Logger } from '../../src/log/logger.js';
import { parseNotifyFile, startNotifications, type Notifier } from '../../src/notify/index.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { startFakeGithub, startReceiver, type Receiver } from '../support/receivers.js';
import { TestRepo } from '../support/repo.js';
import { useTmpDirs } from '../support/tmp.js';

/**
 * Issue 13, notifications: a real reconciler over simulated hosts appends to a real event log;
 * the notifier delivers from that log to real HTTP receivers on loopback and a local fake of
 * GitHub's commit-status API.
 */

const tmp = useTmpDirs();
const HOSTS = ['node-a', 'node-b', 'node-c'];
const hep = (name: string, i: number) =>
  `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata:\n  name: ${name}-eth0\nspec:\n  node: ${name}\n  interfaceName: eth0\n  expectedIPs: ["198.18.0.${11 + i}"]\n`;
const DENY_SSH = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: deny-ssh\nspec:\n  order: 1\n  ingress:\n    - action: Deny\n      protocol: TCP\n      destination:\n        ports: [22]\n`;
const FELIX_NO_FAILSAFE = `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata:\n  name: default\nspec:\n  failsafeInboundHostPorts: []\n`;
const ROLLOUT = 'waves:\n  - name: canary\n    count: 1\n  - name: rest\nsoak: 0\nsoakInterval: 10\ncheckAttempts: 1\n';

const SECRET = 'hook-secret-7f3a9c';
const TOKEN = 'ghp_faketoken0123456789';
const PUBLIC_URL = 'http://palisade.example.test:9420';

const NOTIFY = `providers:
  - name: ops
    type: webhook
    urlEnv: OPS_URL
    secretEnv: OPS_SECRET
    timeout: 300ms
  - name: chat
    type: slack
    urlEnv: SLACK_URL
    timeout: 300ms
  - name: gh
    type: github
    repository: acme/host-policy
    tokenEnv: GH_TOKEN
    apiUrlPlaceholder
alerts:
  - providers: [ops, chat]
    on: [rolledBack, halted, failed, completed, rejected, drift]
  - providers: [gh]
    on: [all]
`;

interface World {
  repo: TestRepo;
  store: FileEventStore;
  git: GitSource;
  reconciler: Reconciler;
  ops: Receiver;
  chat: Receiver;
  gh: Awaited<ReturnType<typeof startFakeGithub>>;
  env: NodeJS.ProcessEnv;
  state: string;
  logs: { text: string };
  logger: Logger;
  notify(): Promise<Notifier>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function world(): Promise<World> {
  const dir = await tmp('palisade-notify-');
  const state = path.join(dir, 'state');
  const repo = await TestRepo.create(path.join(dir, 'repo'));
  await repo.commit({ 'palisade.yaml': ROLLOUT, 'hosts.yaml': HOSTS.map(hep).join('---\n') }, 'endpoints for three hosts');
  const ops = await startReceiver();
  const chat = await startReceiver();
  const gh = await startFakeGithub(TOKEN);
  cleanups.push(() => ops.close(), () => chat.close(), () => gh.close());
  const env = { OPS_URL: `${ops.url}/palisade`, OPS_SECRET: SECRET, SLACK_URL: `${chat.url}/services/T000/B000/slacksecretpath`, GH_TOKEN: TOKEN };
  const store = await openFileEventStore(path.join(state, 'events'));
  const git = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(state, 'git') });
  cleanups.push(() => store.close(), () => git.close());
  const drivers = new Map(HOSTS.map((h, i) => [h, new SimulatedHost(h, `198.18.0.${11 + i}`, [{ name: 'eth0', addresses: [`198.18.0.${11 + i}`] }], '198.18.0.1', LAB_SERVICES)]));
  const logs = { text: '' };
  const logger = createLogger({ level: 'debug', destination: { write: (s: string) => void (logs.text += s) } as never });
  const reconciler = new Reconciler({ git, store, logger, stateDir: state, drivers });
  await reconciler.load();
  const parsed = parseNotifyFile(NOTIFY.replace('apiUrlPlaceholder', `apiUrl: ${gh.url}`), 'notify.yaml', env);
  expect(parsed.errors).toEqual([]);
  expect(parsed.unset).toEqual([]);
  const notify = async () => {
    const n = startNotifications(parsed.config!, { dir: stateLayout(state).notify, source: store, logger, env, publicUrl: PUBLIC_URL, retry: { initialMs: 20, maxMs: 100 } });
    cleanups.push(() => n.stop());
    await n.ready;
    return n;
  };
  return { repo, store, git, reconciler, ops, chat, gh, env, state, logs, logger, notify };
}

const drained = async (w: World, n: Notifier) => expect(await n.drain(await w.store.head(), 15_000)).toBe(true);
const events = (r: Receiver) => r.accepted().map((x) => `${String(x.body.event)}${x.body.host ? ` ${String(x.body.host)}` : ''}`);

describe('notifications from the event log', () => {
  it('a good commit and a lockout commit produce exactly the expected calls, in order', async () => {
    const w = await world();
    const notifier = await w.notify();
    const good = (await w.repo.tip())!;
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['completed']);
    await drained(w, notifier);

    expect(events(w.ops)).toEqual(['completed']);
    const done = w.ops.accepted()[0]!;
    expect(done.body).toMatchObject({ event: 'completed', type: 'RolloutFinished', revision: good, outcome: 'completed', failedHosts: [], progress: { confirmed: 3, total: 3 }, url: `${PUBLIC_URL}/?revision=${good}` });
    expect(typeof done.body.seq).toBe('number');
    expect(Date.parse(String(done.body.time))).not.toBeNaN();
    expect(verifySignature(SECRET, Buffer.from(done.raw), done.headers['x-palisade-signature-256'] as string)).toBe(true);
    expect(verifySignature('another-secret', Buffer.from(done.raw), done.headers['x-palisade-signature-256'] as string)).toBe(false);
    expect(done.headers['x-palisade-delivery']).toBe(done.body.id);
    expect(w.chat.accepted().map((r) => r.path)).toEqual(['/services/T000/B000/slacksecretpath']);
    expect(String(w.chat.accepted()[0]!.body.text)).toMatch(/^:white_check_mark: \*palisade\* rollout of [0-9a-f]{12} \(endpoints for three hosts\) completed: 3\/3 hosts confirmed <http:\/\/palisade\.example\.test:9420\/\?revision=[0-9a-f]{40}\|rollout page>$/);
    expect(w.gh.statuses().map((s) => `${s.state} ${s.description}`)).toEqual([
      'pending 0/3 hosts confirmed',
      'pending 1/3 hosts confirmed',
      'pending 2/3 hosts confirmed',
      'pending 3/3 hosts confirmed',
      'success 3/3 hosts confirmed',
    ]);
    expect(new Set(w.gh.statuses().map((s) => `${s.repo} ${s.sha} ${s.context} ${s.target_url}`))).toEqual(new Set([`acme/host-policy ${good} palisade/rollout ${PUBLIC_URL}/?revision=${good}`]));

    const lockout = await w.repo.commit({ 'deny-ssh.yaml': DENY_SSH, 'felix.yaml': FELIX_NO_FAILSAFE }, 'deny ssh everywhere');
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['halted']);
    await drained(w, notifier);

    expect(events(w.ops)).toEqual(['completed', 'rolledBack node-a', 'halted']);
    const [, rolledBack, halted] = w.ops.accepted();
    expect(rolledBack!.body).toMatchObject({ revision: lockout, type: 'HostTransition', host: 'node-a', wave: 0 });
    expect(String(rolledBack!.body.reason)).toMatch(/ssh-from-management/);
    expect(halted!.body).toMatchObject({ revision: lockout, outcome: 'halted', failedHosts: ['node-a'], failure: { host: 'node-a' } });
    expect(String((halted!.body.failure as { check: string }).check)).toMatch(/^ssh-from-management: /);
    expect(w.chat.accepted().map((r) => String(r.body.text).split(' ')[0])).toEqual([':white_check_mark:', ':rewind:', ':octagonal_sign:']);
    const lockoutStatuses = w.gh.statuses().filter((s) => s.sha === lockout);
    expect(lockoutStatuses.map((s) => s.state)).toEqual(['pending', 'pending', 'failure']);
    expect(lockoutStatuses[0]!.description).toBe('0/3 hosts confirmed');
    expect(lockoutStatuses[1]!.description).toMatch(/^0\/3 hosts confirmed; node-a rolled back: ssh-from-management: /);
    expect(lockoutStatuses[2]!.description).toMatch(/^halted: node-a: ssh-from-management: /);
    expect(lockoutStatuses.every((s) => s.description.length <= 140)).toBe(true);

    const broken = await w.repo.commit({ 'broken.yaml': 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: broken\nspec:\n  order: fast\n' }, 'a typo');
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['rejected']);
    await drained(w, notifier);
    expect(events(w.ops).at(-1)).toBe('rejected');
    expect(String(w.ops.accepted().at(-1)!.body.reason)).toMatch(/^1 error; first: broken\.yaml:6:\d+: GlobalNetworkPolicy\/broken: spec\.order/);
    expect(w.gh.statuses().filter((s) => s.sha === broken).map((s) => s.state)).toEqual(['failure']);

    // Every request was a distinct notification.
    for (const r of [w.ops, w.chat, w.gh]) expect(new Set(r.received.map((x) => x.headers['x-palisade-delivery'])).size).toBe(r.received.length);
  });

  it('a receiver down for a while gets its notifications later, a restart repeats none, and no secret reaches the log', async () => {
    const w = await world();
    // The webhook refuses connections, Slack hangs past the timeout, GitHub fails and echoes the token back.
    await w.ops.down();
    w.chat.answer = () => 'hang';
    w.gh.answer = () => ({ status: 500, body: JSON.stringify({ message: `internal error handling token ${TOKEN}` }) });
    let notifier = await w.notify();
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['completed']);
    // The rollout finished with every receiver down; nothing was accepted meanwhile.
    expect(w.gh.accepted()).toEqual([]);
    await until(() => w.logs.text.includes('"provider":"ops"') && w.logs.text.includes('NotificationRetry') && w.gh.received.length > 2 && w.chat.received.length > 1);
    await notifier.stop();
    expect(notifier.positions()).toMatchObject({ ops: expect.any(Number) });

    // A restart while they are still down, then they come back.
    notifier = await w.notify();
    await w.ops.up();
    const ghFake = await startFakeGithub(TOKEN);
    cleanups.push(() => ghFake.close());
    w.gh.answer = ghFake.answer;
    w.chat.answer = () => ({ status: 200, body: 'ok' });
    await drained(w, notifier);
    expect(events(w.ops)).toEqual(['completed']);
    expect(w.chat.accepted()).toHaveLength(1);
    expect(w.gh.accepted().map((r) => String(r.body.description))).toEqual(['0/3 hosts confirmed', '1/3 hosts confirmed', '2/3 hosts confirmed', '3/3 hosts confirmed', '3/3 hosts confirmed']);

    // Stopped and started again: nothing already delivered goes out twice.
    await notifier.stop();
    notifier = await w.notify();
    await w.repo.commit({ 'deny-ssh.yaml': DENY_SSH, 'felix.yaml': FELIX_NO_FAILSAFE }, 'deny ssh everywhere');
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['halted']);
    await drained(w, notifier);
    expect(events(w.ops)).toEqual(['completed', 'rolledBack node-a', 'halted']);
    expect(w.gh.accepted().map((r) => String(r.body.state))).toEqual(['pending', 'pending', 'pending', 'pending', 'success', 'pending', 'pending', 'failure']);
    for (const r of [w.ops, w.chat, w.gh]) {
      const ids = r.accepted().map((x) => x.headers['x-palisade-delivery']);
      expect(new Set(ids).size).toBe(ids.length);
    }

    expect(w.logs.text).toMatch(/NotificationRetry/);
    expect(w.logs.text).toMatch(/\[redacted\]/);
    for (const secret of [SECRET, TOKEN, 'slacksecretpath', w.env.SLACK_URL!, w.env.OPS_URL!]) expect(w.logs.text).not.toContain(secret);
  });

  it('a provider added to a state directory with history starts at the end of the log', async () => {
    const w = await world();
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['completed']);
    const notifier = await w.notify();
    await drained(w, notifier);
    expect(w.ops.received).toEqual([]);
    expect(w.gh.received).toEqual([]);
    await w.repo.commit({ 'deny-ssh.yaml': DENY_SSH, 'felix.yaml': FELIX_NO_FAILSAFE }, 'deny ssh everywhere');
    await w.reconciler.reconcile();
    await drained(w, notifier);
    expect(events(w.ops)).toEqual(['rolledBack node-a', 'halted']);
  });
});

describe('a damaged position file', () => {
  it('stops only its own provider, says so, and holds up neither the others nor the reconciler', async () => {
    const w = await world();
    await mkdir(stateLayout(w.state).notify, { recursive: true });
    await writeFile(path.join(stateLayout(w.state).notify, 'ops.json'), '{"version":1,"seq":');
    const notifier = await w.notify();
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['completed']);
    expect(await notifier.drain(await w.store.head(), 1_000)).toBe(false);
    expect(notifier.positions()).toMatchObject({ ops: 0, chat: await w.store.head(), gh: await w.store.head() });
    expect(w.ops.received).toEqual([]);
    expect(w.chat.accepted()).toHaveLength(1);
    expect(w.logs.text).toMatch(/"event":"NotifierFailed","provider":"ops".*is damaged; remove it/);
  });
});

describe('drift', () => {
  it('reaches the webhook and Slack, and sets no commit status', async () => {
    const w = await world();
    const notifier = await w.notify();
    await w.reconciler.reconcile();
    await drained(w, notifier);
    const revision = (await w.repo.tip())!;
    const statuses = w.gh.statuses().length;
    // What the drift loop appends when someone edits a host's table by hand.
    await w.store.append([{ type: 'DriftDetected', revision, key: `${revision}:drift:node-b:1`, host: 'node-b', details: 'chain filter-input has different rules', restored: true }]);
    await drained(w, notifier);
    expect(events(w.ops)).toEqual(['completed', 'drift node-b']);
    expect(w.ops.accepted()[1]!.body).toMatchObject({ type: 'DriftDetected', revision, reason: 'chain filter-input has different rules', outcome: 'restored' });
    expect(String(w.chat.accepted()[1]!.body.text)).toBe(':warning: *palisade* node-b: table changed outside Palisade (chain filter-input has different rules); restored <' + `${PUBLIC_URL}/?revision=${revision}|rollout page>`);
    expect(w.gh.statuses()).toHaveLength(statuses);
  });
});

describe('a rollout rolled back as a whole (onFailure: rollback)', () => {
  it('names the host that failed its checks, not the hosts undone after it', async () => {
    const w = await world();
    await w.repo.commit({ 'palisade.yaml': `${ROLLOUT}onFailure: rollback\nconcurrency: 1\n` }, 'roll back as a whole');
    const notifier = await w.notify();
    await w.reconciler.reconcile();
    // node-c alone loses SSH: the canary (node-a) and node-b pass, then node-c fails and both are undone.
    const onlyC = DENY_SSH.replace('  order: 1\n', "  order: 1\n  selector: zone == 'c'\n");
    const hosts = HOSTS.map(hep).join('---\n').replace('  name: node-c-eth0\n', '  name: node-c-eth0\n  labels:\n    zone: c\n');
    const allowRest = `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: allow-all\nspec:\n  order: 100\n  ingress:\n    - action: Allow\n  egress:\n    - action: Allow\n`;
    const bad = await w.repo.commit({ 'hosts.yaml': hosts, 'deny-ssh.yaml': onlyC, 'allow.yaml': allowRest, 'felix.yaml': FELIX_NO_FAILSAFE }, 'deny ssh on zone c');
    expect((await w.reconciler.reconcile()).map((r) => r.outcome)).toEqual(['rolledBack']);
    await drained(w, notifier);
    const mine = w.ops.accepted().filter((r) => r.body.revision === bad);
    expect(mine.map((r) => `${String(r.body.event)}${r.body.host ? ` ${String(r.body.host)}` : ''}`)).toEqual(['rolledBack node-c', 'rolledBack node-b', 'rolledBack node-a', 'rolledBack']);
    expect(mine.at(-1)!.body).toMatchObject({ outcome: 'rolledBack', failure: { host: 'node-c' }, progress: { confirmed: 0, total: 3 } });
    expect(String(mine[1]!.body.reason)).toMatch(/^undone because a later wave failed/);
    const statuses = w.gh.statuses().filter((s) => s.sha === bad);
    expect(statuses.at(-1)).toMatchObject({ state: 'failure' });
    expect(statuses.at(-1)!.description).toMatch(/^rolled back: node-c: ssh-from-management: /);
  });
});

describe('at-least-once across a crash', () => {
  it('a position lost in a crash repeats only what came after it, with the same delivery ids', async () => {
    const w = await world();
    let notifier = await w.notify();
    await w.reconciler.reconcile();
    await drained(w, notifier);
    await notifier.stop();
    // What the disk held before the lockout's notifications went out: as if the reconciler had
    // crashed after delivering them and before any later position reached the disk.
    const saved = await readPositions(w.state);
    notifier = await w.notify();
    await w.repo.commit({ 'deny-ssh.yaml': DENY_SSH, 'felix.yaml': FELIX_NO_FAILSAFE }, 'deny ssh everywhere');
    await w.reconciler.reconcile();
    await drained(w, notifier);
    await notifier.stop();
    const before = w.ops.accepted().map((r) => r.headers['x-palisade-delivery']);
    expect(events(w.ops)).toEqual(['completed', 'rolledBack node-a', 'halted']);

    await writePositions(w.state, saved);
    notifier = await w.notify();
    await drained(w, notifier);
    expect(events(w.ops)).toEqual(['completed', 'rolledBack node-a', 'halted', 'rolledBack node-a', 'halted']);
    expect(w.ops.accepted().slice(3).map((r) => r.headers['x-palisade-delivery'])).toEqual(before.slice(1));
  });
});

describe('palisade reconcile --notify', () => {
  it('delivers what a --once pass recorded before it exits, with links to --public-url', async () => {
    const dir = await tmp('palisade-notify-cli-');
    const repo = await TestRepo.create(path.join(dir, 'repo'));
    const good = await repo.commit({ 'palisade.yaml': ROLLOUT, 'hosts.yaml': HOSTS.map(hep).join('---\n') }, 'endpoints for three hosts');
    const ops = await startReceiver();
    cleanups.push(() => ops.close());
    await writeFile(path.join(dir, 'notify.yaml'), `providers:\n  - {name: ops, type: webhook, url: "${ops.url}/hook", secretEnv: PALISADE_TEST_HOOK_SECRET}\nalerts:\n  - {providers: [ops], on: [all]}\n`);
    await writeFile(
      path.join(dir, 'hosts.json'),
      JSON.stringify({ management: { address: '198.18.0.1' }, hosts: HOSTS.map((name, i) => ({ kind: 'simulated', name, address: `198.18.0.${11 + i}`, interfaces: [{ name: 'eth0', addresses: [`198.18.0.${11 + i}`] }] })) }),
    );
    const saved = { ...process.env };
    Object.assign(process.env, { PALISADE_TEST_HOOK_SECRET: SECRET, PALISADE_LOG_LEVEL: 'silent' });
    try {
      const out = { text: '' };
      const io = { stdout: { write: (s: string) => (out.text += s) }, stderr: { write: (s: string) => (out.text += s) } };
      const args = ['reconcile', '--repo', repo.dir, '--state', path.join(dir, 'state'), '--hosts', path.join(dir, 'hosts.json'), '--notify', path.join(dir, 'notify.yaml'), '--public-url', 'https://palisade.example.test/', '--once'];
      expect(await main(args, io)).toBe(0);
      // The canary first; the rest wave's two hosts in either order.
      const sent = events(ops);
      expect(sent.slice(0, 2)).toEqual(['started', 'confirmed node-a']);
      expect(sent.slice(2, 4).sort()).toEqual(['confirmed node-b', 'confirmed node-c']);
      expect(sent.slice(4)).toEqual(['completed']);
      expect(ops.accepted().every((r) => r.body.url === `https://palisade.example.test/?revision=${good}`)).toBe(true);
      expect(ops.accepted().every((r) => verifySignature(SECRET, Buffer.from(r.raw), r.headers['x-palisade-signature-256'] as string))).toBe(true);
      // A second pass has nothing new: nothing is sent again.
      expect(await main(args, io)).toBe(0);
      expect(ops.accepted()).toHaveLength(5);
    } finally {
      process.env = saved;
    }
  });
});

async function readPositions(state: string): Promise<Map<string, string>> {
  const dir = stateLayout(state).notify;
  return new Map(await Promise.all((await readdir(dir)).map(async (f) => [f, await readFile(path.join(dir, f), 'utf8')] as [string, string])));
}

async function writePositions(state: string, files: Map<string, string>): Promise<void> {
  for (const [f, text] of files) await writeFile(path.join(stateLayout(state).notify, f), text);
}

async function until(probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the condition');
    await new Promise((r) => setTimeout(r, 20));
  }
}
