import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { formatModelError } from '../../src/model/errors.js';
import { parseNotifyFile, routesOf } from '../../src/notify/config.js';
import { useTmpDirs } from '../support/tmp.js';

const tmp = useTmpDirs();

/** The example of issue 13, as the README shows it. */
const EXAMPLE = `providers:
  - name: ops
    type: webhook            # JSON POST, HMAC-SHA256 signature header, secret from secretEnv
    url: http://127.0.0.1:9000/palisade
    secretEnv: OPS_HOOK_SECRET
  - name: chat
    type: slack              # incoming-webhook message format
    urlEnv: SLACK_WEBHOOK_URL
  - name: gh
    type: github             # commit statuses on the policy repository
    repository: acme/host-policy
    tokenEnv: GITHUB_TOKEN
    apiUrl: https://api.github.com   # tests point it at a local server
alerts:
  - providers: [ops, chat]
    on: [rolledBack, halted, failed, completed, rejected, drift]
  - providers: [gh]
    on: [all]
`;
const ENV = { OPS_HOOK_SECRET: 's3cret', SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/X', GITHUB_TOKEN: 'ghp_x' };

const BROKEN = `providers:
  - name: ops
    type: webhook
    url: ftp://127.0.0.1/palisade
    secretenv: OPS_HOOK_SECRET
  - name: chat
    type: slack
    url: https://hooks.slack.com/services/T/B/X
    urlEnv: SLACK_WEBHOOK_URL
  - name: gh
    type: github
    repository: host-policy
    tokenEnv: GITHUB_TOKEN
  - name: ops
    type: teams
alerts:
  - providers: [ops, chatt]
    on: [rolledback]
`;

const lines = (text: string, file = 'notify.yaml') => parseNotifyFile(text, file, ENV).errors.map(formatModelError);

describe('the notify file', () => {
  it('accepts the documented example and routes kinds to providers', () => {
    const { config, errors, unset } = parseNotifyFile(EXAMPLE, 'notify.yaml', ENV);
    expect(errors).toEqual([]);
    expect(unset).toEqual([]);
    expect(config!.providers.map((p) => p.type)).toEqual(['webhook', 'slack', 'github']);
    expect(config!.providers[2]).toMatchObject({ apiUrl: 'https://api.github.com', context: 'palisade/rollout' });
    const routes = routesOf(config!);
    expect([...routes.get('ops')!]).toEqual(['rolledBack', 'halted', 'failed', 'completed', 'rejected', 'drift']);
    expect(routes.get('gh')!.has('started')).toBe(true);
    expect(routes.get('gh')!.size).toBe(11);
  });

  it('names the file, line, column and field of every problem', () => {
    expect(lines(BROKEN)).toEqual([
      'notify.yaml:4:10: NotifyConfig: providers[0].url: must be an http:// or https:// URL',
      'notify.yaml:5:5: NotifyConfig: providers[0].secretenv: unknown field "secretenv" (did you mean "secretEnv"?)',
      'notify.yaml:8:10: NotifyConfig: providers[1].url: give exactly one of url and urlEnv',
      'notify.yaml:12:17: NotifyConfig: providers[2].repository: must be owner/name',
      "notify.yaml:15:11: NotifyConfig: providers[3].type: Invalid discriminator value. Expected 'webhook' | 'slack' | 'github'",
      'notify.yaml:18:10: NotifyConfig: alerts[0].on[0]: Invalid option: expected one of "started"|"confirmed"|"rolledBack"|"failed"|"unreachable"|"rejected"|"completed"|"halted"|"aborted"|"superseded"|"drift"|"all"',
    ]);
    // Cross-references are checked once every field is well-formed.
    const refs = `providers:\n  - {name: ops, type: webhook, url: "http://127.0.0.1:9000/"}\n  - {name: ops, type: slack, urlEnv: SLACK_WEBHOOK_URL}\n  - {name: gh, type: github, repository: a/b, tokenEnv: GITHUB_TOKEN}\nalerts:\n  - providers: [ops, chatt]\n    on: [all]\n`;
    expect(lines(refs)).toEqual([
      'notify.yaml:3:12: NotifyConfig: providers[1].name: provider "ops" is defined twice',
      'notify.yaml:4:12: NotifyConfig: providers[2].name: provider "gh" is in no alert, so it would never be sent anything',
      'notify.yaml:6:22: NotifyConfig: alerts[0].providers[1]: no provider is named "chatt" (providers: ops, gh)',
    ]);
    expect(lines('providers: [\n')).toEqual([expect.stringMatching(/^notify\.yaml:2:1: invalid YAML: /)]);
    expect(lines('providers: []\nalerts: []\n')).toEqual([
      'notify.yaml:1:1: NotifyConfig: providers: Too small: expected array to have >=1 items',
      'notify.yaml:2:1: NotifyConfig: alerts: Too small: expected array to have >=1 items',
    ]);
  });

  it('reports environment variables that are not set at the field naming them', () => {
    const { errors, unset } = parseNotifyFile(EXAMPLE, 'notify.yaml', { GITHUB_TOKEN: 'x' });
    expect(errors).toEqual([]);
    expect(unset.map(formatModelError)).toEqual([
      'notify.yaml:5:16: NotifyConfig: providers[0].secretEnv: environment variable OPS_HOOK_SECRET is not set (provider "ops")',
      'notify.yaml:8:13: NotifyConfig: providers[1].urlEnv: environment variable SLACK_WEBHOOK_URL is not set (provider "chat")',
    ]);
  });
});

describe('the same verdict from validate and reconcile', () => {
  const capture = () => {
    const out = { stdout: '', stderr: '' };
    return { out, io: { stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } } };
  };

  it('palisade validate --notify and palisade reconcile --notify refuse a broken file with the same errors', async () => {
    const dir = await tmp('palisade-notify-cli-');
    const file = path.join(dir, 'notify.yaml');
    await writeFile(file, BROKEN);
    const expected = lines(BROKEN, file);

    const v = capture();
    expect(await main(['validate', '--notify', file], v.io)).toBe(1);
    expect(v.out.stdout.trim().split('\n')).toEqual(expected);

    const json = capture();
    expect(await main(['validate', '--notify', file, '--format', 'json'], json.io)).toBe(1);
    expect((JSON.parse(json.out.stdout) as { errors: unknown[] }).errors).toHaveLength(expected.length);

    const r = capture();
    await writeFile(path.join(dir, 'hosts.json'), JSON.stringify({ hosts: [] }));
    expect(await main(['reconcile', '--repo', dir, '--state', path.join(dir, 'state'), '--hosts', path.join(dir, 'hosts.json'), '--notify', file, '--once'], r.io)).toBe(1);
    expect(r.out.stderr).toBe(`palisade reconcile: ${file} is not a valid notify file:\n${expected.join('\n')} [NOTIFY_CONFIG_INVALID]\n`);
  });

  it('an unset variable is a warning for validate and an error for reconcile', async () => {
    const dir = await tmp('palisade-notify-cli-');
    const file = path.join(dir, 'notify.yaml');
    await writeFile(file, 'providers:\n  - {name: gh, type: github, repository: a/b, tokenEnv: PALISADE_TEST_UNSET_TOKEN}\nalerts:\n  - {providers: [gh], on: [all]}\n');
    const v = capture();
    expect(await main(['validate', '--notify', file], v.io)).toBe(0);
    expect(v.out.stdout).toContain(`${file}:2:57: NotifyConfig: providers[0].tokenEnv: warning: environment variable PALISADE_TEST_UNSET_TOKEN is not set`);
    const r = capture();
    expect(await main(['reconcile', '--repo', dir, '--state', path.join(dir, 'state'), '--hosts', path.join(dir, 'none.json'), '--notify', file, '--once'], r.io)).toBe(1);
    expect(r.out.stderr).toContain(`${file}:2:57: NotifyConfig: providers[0].tokenEnv: environment variable PALISADE_TEST_UNSET_TOKEN is not set`);
  });

  it('refuses --public-url that is not a URL, and --notify with --store', async () => {
    const r = capture();
    expect(await main(['reconcile', '--repo', '.', '--state', '/nonexistent', '--hosts', 'h.json', '--public-url', 'palisade.local'], r.io)).toBe(2);
    expect(r.out.stderr).toMatch(/--public-url must be an http:\/\/ or https:\/\/ URL/);
    const s = capture();
    expect(await main(['reconcile', '--repo', '.', '--state', '/nonexistent', '--hosts', 'h.json', '--notify', 'n.yaml', '--store', 'etcd://127.0.0.1:2379'], s.io)).toBe(2);
    expect(s.out.stderr).toMatch(/--notify is not supported with --store/);
  });
});
