import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';

/**
 * What each host's table held before a revision touched it: the ruleset a rollback restores.
 * Written (and fsync'd) before the apply, so a reconciler that dies between apply and
 * confirmation still knows how to undo it after a restart. The first snapshot per
 * (host, revision) wins: a resumed apply must not record its own half-done state as "before".
 */
export class BeforeSnapshots {
  constructor(private readonly dir: string) {}

  private file(host: string, revision: string) {
    return path.join(this.dir, encodeURIComponent(host), `${revision}.json`);
  }

  async get(host: string, revision: string): Promise<{ snapshot: string | null } | undefined> {
    try {
      return JSON.parse(await readFile(this.file(host, revision), 'utf8')) as { snapshot: string | null };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async putIfAbsent(host: string, revision: string, snapshot: string | null): Promise<void> {
    if (await this.get(host, revision)) return;
    const file = this.file(host, revision);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(JSON.stringify({ snapshot }));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, file);
  }
}
