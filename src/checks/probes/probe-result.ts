/**
 * What one probe saw. `open` means "reached as expected": connected, banner arrived, DNS answered,
 * echo replied, HTTP answered with the expected status. `inconclusive` says the probe itself could
 * not run (tool missing, namespace gone): that is neither open nor closed, so it must never pass an
 * `expect: closed` check.
 */
export interface ProbeResult {
  open: boolean;
  ms: number;
  error?: string;
  inconclusive?: ProbeErrorCode;
}

export type ProbeErrorCode = 'PROBE_NAMESPACE_UNAVAILABLE' | 'PROBE_TOOL_MISSING' | 'PROBE_BAD_OUTPUT' | 'PROBE_KILLED';

export class ProbeError extends Error {
  constructor(
    readonly code: ProbeErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

/** Where a probe runs from: a named network namespace, or this process's own when absent. */
export interface ProbeOrigin {
  namespace?: string;
}

export const reached = (ms: number): ProbeResult => ({ open: true, ms });
export const notReached = (ms: number, error: string): ProbeResult => ({ open: false, ms, error });
