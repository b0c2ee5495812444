import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';

/**
 * `PALISADE_CPU_PROFILE=FILE`: profile this process from start to shutdown and write the profile
 * (Chrome DevTools `.cpuprofile`) when it is stopped. `node --cpu-prof` writes only on a normal
 * exit; a service is stopped with SIGTERM, and the slow part is what it did before that.
 * Returns null when not asked for.
 */
export function cpuProfileOnRequest(file = process.env.PALISADE_CPU_PROFILE): { write(): Promise<void> } | null {
  if (!file) return null;
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.start');
  let written: Promise<void> | null = null;
  return {
    write: () =>
      (written ??= new Promise<unknown>((resolve, reject) => session.post('Profiler.stop', (err, res) => (err ? reject(err) : resolve(res.profile))))
        .then((profile) => writeFile(file, JSON.stringify(profile)))
        .finally(() => session.disconnect())),
  };
}
