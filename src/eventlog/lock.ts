import { open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EventLogError } from './errors.js';

const heldInThisProcess = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * One writer per log directory. A pid file rather than flock (which Node lacks); a lock left by a
 * killed process is taken over, since that process can no longer write.
 */
export async function acquireWriterLock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, 'LOCK');
  if (heldInThisProcess.has(path)) throw locked(dir, process.pid);
  try {
    const fh = await open(path, 'wx');
    await fh.writeFile(String(process.pid));
    await fh.close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) throw locked(dir, owner);
    await writeFile(path, String(process.pid));
  }
  heldInThisProcess.add(path);
  return async () => {
    heldInThisProcess.delete(path);
    await rm(path, { force: true });
  };
}

const locked = (dir: string, pid: number) =>
  new EventLogError('EVENTLOG_LOCKED', `event log ${dir} is in use by process ${pid}; stop it or open the log read-only`, { file: join(dir, 'LOCK') });
