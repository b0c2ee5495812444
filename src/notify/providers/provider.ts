import type { Notification } from '../notifications.js';

/** Where notifications go. `deliver` resolves once the receiver accepted one, or throws `DeliveryError`. */
export interface Provider {
  readonly name: string;
  readonly type: string;
  /** Whether this provider has anything to say about a notification (GitHub: only rollout states). */
  accepts(n: Notification): boolean;
  deliver(n: Notification, signal: AbortSignal): Promise<void>;
}

/** A failed delivery; `retryable: false` means the receiver refused this notification for good. */
export class DeliveryError extends Error {
  readonly code = 'NOTIFY_DELIVERY_FAILED';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

/**
 * Receivers that answer 4xx reject the request itself, except for the answers that mean
 * "later" (408, 425, 429) or "not allowed yet" (401, 403, 404: a token or hook the operator is
 * fixing). Everything else is retried.
 */
export const isRetryableStatus = (status: number) => status >= 500 || [401, 403, 404, 408, 425, 429].includes(status) || status < 400;

/** A fetch failure as text, without the URL (which may itself be a secret). */
export function networkReason(e: unknown): string {
  const err = e as Error & { cause?: unknown };
  if (err.name === 'TimeoutError') return 'timed out';
  const cause = err.cause instanceof Error ? err.cause.message : typeof err.cause === 'string' ? err.cause : '';
  return cause ? `${err.message}: ${cause}` : err.message;
}

/** POSTs a JSON body; headers are the caller's. */
export async function postJson(url: string, body: string, headers: Record<string, string>, signal: AbortSignal): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', 'user-agent': 'palisade', ...headers }, signal, redirect: 'error' });
  } catch (e) {
    throw new DeliveryError(networkReason(e), true);
  }
  // Drained so the connection can be reused; what a receiver says is not logged (it may echo secrets).
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new DeliveryError(`answered ${res.status}`, isRetryableStatus(res.status), res.status);
}
