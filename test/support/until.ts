/**
 * Polls `probe` until it yields a value (anything but undefined, null or false), bounded by
 * `timeoutMs`. A probe that throws counts as "not yet" (a file not written yet, a server not
 * listening yet); its last error is named if time runs out.
 */
export async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const v = await probe().catch((e: unknown) => {
      lastError = e;
      return undefined;
    });
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
