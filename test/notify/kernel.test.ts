import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostsFileForLab } from '../../src/cli/lab.js';
import { openFileEventStore, type FileEventStore } from '../../src/eventlog/file-store.js';
import { stateLayout } from '../../src/eventlog/layout.js';
import { openGitSource, type GitSource } from '../../src/git/source.js';
import { driversFromHostsFile } from '../../src/hosts/drivers.js';
import { labDown, labPrerequisites, labUp, listLabNamespaces, type LabDescription } from '../../src/lab/lab.js';
import { silentLogger } from '../../src/log/logger.js';
import { parseNotifyFile, startNotifications, type Notifier } from '../../src/notify/index.js';
import { Reconciler } from '../../src/reconciler/reconciler.js';
import { startFakeGithub, startReceiver, type Receiver } from '../support/receivers.js';
import { TestRepo } from '../support/repo.js';
import { hostEndpoints, NO_FAILSAFES, rolloutYaml, sshPolicy, webPolicy } from '../support/rollout-lab.js';

const pre = await labPrerequisites();
const HOSTS = ['node-a', 'node-b'];
const TOKEN = 'ghp_kerneltoken';

/**
 * The notifications of a good and a lockout commit on lab hosts (network namespaces, real nft,
 * real SSH probes from the management namespace). The receivers listen on 127.0.0.1 where the
 * reconciler runs; nothing in the root namespace's firewall is touched.
 */
describe.skipIf(!pre.ok)('notifications from a rollout on lab hosts', () => {
  let work: string;
  let lab: LabDescription | null = null;
  let store: FileEventStore;
  let git: GitSource;
  let notifier: Notifier;
  let hook: Receiver;
  let gh: Awaited<ReturnType<typeof startFakeGithub>>;

  beforeAll(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'palisade-notify-kernel-'));
    lab = await labUp(HOSTS);
    hook = await startReceiver();
    gh = await startFakeGithub(TOKEN);
    store = await openFileEventStore(path.join(work, 'state', 'events'));
    const env = { GH_TOKEN: TOKEN };
    const file = `providers:\n  - {name: ops, type: webhook, url: "${hook.url}/hook"}\n  - {name: gh, type: github, repository: acme/host-policy, tokenEnv: GH_TOKEN, apiUrl: "${gh.url}"}\nalerts:\n  - {providers: [ops], on: [rolledBack, halted, failed, completed, rejected]}\n  - {providers: [gh], on: [all]}\n`;
    notifier = startNotifications(parseNotifyFile(file, 'notify.yaml', env).config!, { dir: stateLayout(path.join(work, 'state')).notify, source: store, logger: silentLogger(), env });
    await notifier.ready;
  });

  afterAll(async () => {
    await notifier?.stop();
    await git?.close();
    await store?.close();
    await hook?.close();
    await gh?.close();
    if (lab) {
      await labDown(lab);
      expect(await listLabNamespaces(lab.id)).toEqual([]);
    }
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a good commit completes, a lockout commit rolls the canary back and halts: the calls say exactly that', async () => {
    const repo = await TestRepo.create(path.join(work, 'repo'));
    const fast = 'checkAttempts: 1\nsoak: 0\nsoakInterval: 300ms\ntimeouts:\n  apply: 10s\n  verify: 5s\n';
    const good = await repo.commit({ 'palisade.yaml': rolloutYaml(fast), 'hosts.yaml': hostEndpoints(HOSTS), 'web.yaml': webPolicy([80]) }, 'web on workers');
    git = await openGitSource({ repo: repo.dir, branch: 'main', cacheDir: path.join(work, 'state', 'git') });
    const reconciler = new Reconciler({ git, store, logger: silentLogger(), stateDir: path.join(work, 'state'), drivers: driversFromHostsFile(hostsFileForLab(lab!)) });
    await reconciler.load();
    expect((await reconciler.reconcile()).map((r) => r.outcome)).toEqual(['completed']);
    const lockout = await repo.commit({ 'felix.yaml': NO_FAILSAFES, 'deny-ssh.yaml': sshPolicy('deny-ssh', 'Deny', 'all()', 1) }, 'deny ssh');
    expect((await reconciler.reconcile()).map((r) => r.outcome)).toEqual(['halted']);
    expect(await notifier.drain(await store.head(), 15_000)).toBe(true);

    expect(hook.accepted().map((r) => `${String(r.body.event)} ${String(r.body.revision)}${r.body.host ? ` ${String(r.body.host)}` : ''}`)).toEqual([
      `completed ${good}`,
      `rolledBack ${lockout} node-a`,
      `halted ${lockout}`,
    ]);
    expect(String(hook.accepted()[2]!.body.summary)).toMatch(/halted: node-a — ssh-from-management: ssh\/22 from management to node-a .*: closed/);
    expect(gh.statuses().map((s) => `${s.sha === good ? 'good' : 'lockout'} ${s.state} ${s.description.split(':')[0]}`)).toEqual([
      'good pending 0/2 hosts confirmed',
      'good pending 1/2 hosts confirmed',
      'good pending 2/2 hosts confirmed',
      'good success 2/2 hosts confirmed',
      'lockout pending 0/2 hosts confirmed',
      'lockout pending 0/2 hosts confirmed; node-a rolled back',
      'lockout failure halted',
    ]);
  });
});
