import { sh, uniqueName } from '../../test/support/netns.js';

/**
 * Namespaces for a benchmark run: names unique to the run, and torn down however the run ends —
 * normally, by an exception, or by Ctrl-C — so a benchmark never leaves a namespace behind.
 */
export async function withCleanup<T>(run: (track: (ns: string) => void) => Promise<T>): Promise<T> {
  const namespaces: string[] = [];
  const teardown = async () => {
    for (const ns of namespaces.splice(0)) await sh('ip', ['netns', 'del', ns]).catch(() => undefined);
  };
  const onSignal = (signal: NodeJS.Signals) => void teardown().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await run((ns) => namespaces.push(ns));
  } finally {
    await teardown();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One empty namespace (loopback only, no routes): enough to load rulesets into. */
export async function createNamespace(track: (ns: string) => void): Promise<string> {
  const ns = uniqueName('pbl');
  track(ns);
  await sh('ip', ['netns', 'add', ns]);
  return ns;
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const quantile = (xs: readonly number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]!;
