const SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;

/**
 * For commands that build things outside the process (namespaces, lab services): on SIGINT,
 * SIGTERM or SIGHUP, `abort` tells the work to stop, then `cleanup` removes what was built
 * (bounded by `cleanupMs`), then the process exits with 128 + the signal's number. A second
 * signal while cleaning up is ignored: half a cleanup is what this is here to prevent.
 * Returns the function that removes the handlers once the command ended by itself.
 */
export function cleanUpOnSignals(opts: { abort: AbortController; cleanup: () => Promise<void>; say?: (text: string) => void; cleanupMs?: number }): () => void {
  let cleaning = false;
  const handlers = Object.entries(SIGNALS).map(([signal, code]) => {
    const handler = () => {
      if (cleaning) return;
      cleaning = true;
      opts.say?.(`${signal}: stopping and tearing down what was built`);
      opts.abort.abort(new Error(`interrupted by ${signal}`));
      const bound = new Promise<void>((resolve) => setTimeout(resolve, opts.cleanupMs ?? 30_000).unref());
      void Promise.race([opts.cleanup().catch(() => undefined), bound]).then(() => process.exit(code));
    };
    process.on(signal, handler);
    return [signal, handler] as const;
  });
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
