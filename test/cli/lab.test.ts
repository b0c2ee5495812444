import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runLab } from '../../src/cli/lab.js';
import { readHostsFile } from '../../src/hosts/hosts-file.js';
import { LabDescription, labDown, labPrerequisites, listLabNamespaces } from '../../src/lab/lab.js';

const pre = await labPrerequisites();
const io = () => {
  const out = { text: '' };
  return { out, io: { stdout: { write: (s: string) => (out.text += s) }, stderr: { write: (s: string) => (out.text += s) } } };
};

describe.skipIf(!pre.ok)('palisade lab up|down', () => {
  let state = '';
  let lab: LabDescription | null = null;
  afterAll(async () => {
    if (lab) await labDown(lab);
    if (state) await rm(state, { recursive: true, force: true });
  });

  it('builds the lab, writes a hosts file reconcile can read, and tears everything down', async () => {
    state = await mkdtemp(path.join(os.tmpdir(), 'palisade-lab-cli-'));
    const up = io();
    expect(await runLab(['up', '--state', state, '--hosts', 'h1,h2'], up.io)).toBe(0);
    lab = LabDescription.parse(JSON.parse(await readFile(path.join(state, 'lab.json'), 'utf8')));
    expect(up.out.text).toMatch(new RegExp(`lab ${lab.id} is up: h1=198\\.18\\.0\\.11 h2=198\\.18\\.0\\.12`));
    const hosts = await readHostsFile(path.join(state, 'hosts.json'));
    expect(hosts.hosts.map((h) => [h.kind, h.name])).toEqual([['netns', 'h1'], ['netns', 'h2']]);
    expect(hosts.management.namespace).toBe(lab.management.namespace);
    expect((await listLabNamespaces(lab.id)).sort()).toEqual([lab.bridgeNamespace, lab.management.namespace, ...lab.hosts.map((h) => h.namespace)].sort());

    expect(await runLab(['down', '--state', state], io().io)).toBe(0);
    expect(await listLabNamespaces(lab.id)).toEqual([]);
  });

  it('refuses bad host names and a missing lab description', async () => {
    const bad = io();
    expect(await runLab(['up', '--state', state, '--hosts', 'Bad_Name'], bad.io).catch((e: Error) => e.message)).toMatch(/host name 'Bad_Name'/);
    const empty = await mkdtemp(path.join(os.tmpdir(), 'palisade-lab-cli-'));
    await expect(runLab(['down', '--state', empty], io().io)).rejects.toThrow(/no lab description/);
    await rm(empty, { recursive: true, force: true });
  });
});
