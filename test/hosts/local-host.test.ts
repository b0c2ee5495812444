import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalHost } from '../../src/hosts/local-host.js';
import { labPrerequisites } from '../../src/lab/lab.js';

const run = promisify(execFile);
const pre = await labPrerequisites();

describe('LocalHost: Palisade protecting the machine it runs on', () => {
  it("refuses to touch this machine's own network unless the hosts file says so", async () => {
    const host = new LocalHost('me', '198.18.7.1', { manageThisMachine: false });
    await expect(host.current()).rejects.toMatchObject({ code: 'NFT_ROOT_NAMESPACE_REFUSED', message: expect.stringMatching(/manageThisMachine/) });
  });

  describe.skipIf(!pre.ok)('inside a scratch namespace standing in for a machine', () => {
    const ns = `pal-local-${randomBytes(3).toString('hex')}`;
    beforeAll(async () => {
      await run('ip', ['netns', 'add', ns]);
      await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      // A veth pair with both ends inside the namespace: an interface with an address, nothing outside.
      await run('ip', ['-n', ns, 'link', 'add', 'dummy0', 'type', 'veth', 'peer', 'name', 'dummy1']);
      await run('ip', ['-n', ns, 'addr', 'add', '198.18.7.1/32', 'dev', 'dummy0']);
      await run('ip', ['-n', ns, 'link', 'set', 'dummy0', 'up']);
    });
    afterAll(async () => {
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    });

    it('reads interfaces, dry-runs, applies, reads back and restores with nft in its own namespace', async () => {
      const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'test/support/local-host-child.ts'], { timeout: 30_000 });
      const r = JSON.parse(stdout) as { interfaces: string[]; before: string | null; dryRun: string | null; applied: string | null; sshOk: boolean; after: string | null };
      expect(r.interfaces).toEqual(expect.arrayContaining(['lo', 'dummy0']));
      expect(r.before).toBeNull();
      expect(r.dryRun).toBeNull();
      expect(r.applied).toMatch(/table inet palisade/);
      expect(r.applied).toMatch(/dummy0/);
      // Nothing listens on 22 in the scratch namespace: the check must say so, not pass.
      expect(r.sshOk).toBe(false);
      expect(r.after).toBeNull();
    });
  });
});
