export type EventLogErrorCode =
  /** A record that is not the last one fails its checksum or framing: data was damaged after it was acknowledged. */
  | 'EVENTLOG_CORRUPT'
  /** Another live process holds the writer lock on the directory. */
  | 'EVENTLOG_LOCKED'
  /** A draft does not match the event schema; nothing of the call was appended. */
  | 'EVENTLOG_INVALID_EVENT'
  /** A write or fsync failed (a full disk, an I/O error); appends are refused until the store has reopened itself. */
  | 'EVENTLOG_IO'
  /** The store was opened read-only or closed. */
  | 'EVENTLOG_READONLY'
  | 'EVENTLOG_CLOSED';

export class EventLogError extends Error {
  override readonly name = 'EventLogError';
  constructor(
    readonly code: EventLogErrorCode,
    message: string,
    readonly details: { file?: string; offset?: number } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isEventLogError = (e: unknown, code?: EventLogErrorCode): e is EventLogError =>
  e instanceof EventLogError && (code === undefined || e.code === code);
