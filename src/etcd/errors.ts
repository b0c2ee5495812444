export type EtcdStoreErrorCode =
  /** `--store` is not `etcd://HOST:PORT[,HOST:PORT…]`. */
  | 'ETCD_URL_INVALID'
  /** A value or transaction would break etcd's limits; refused before sending (etcd would reject it too). */
  | 'ETCD_LIMIT'
  /** etcd cannot be reached or has no quorum; the call can be retried as is. */
  | 'ETCD_UNAVAILABLE'
  /** Another reconciler holds the leadership this write was fenced on: this process must stop writing. */
  | 'ETCD_NOT_LEADER'
  /** A compare-and-swap kept losing against other writers. */
  | 'ETCD_CONTENDED'
  /** Stored data does not parse, or events were deleted that a reader still needs. */
  | 'ETCD_DATA';

/** Every etcd-side failure Palisade raises, with a code and a message that says what to do. */
export class EtcdStoreError extends Error {
  override readonly name = 'EtcdStoreError';
  constructor(
    readonly code: EtcdStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isEtcdStoreError = (e: unknown, code?: EtcdStoreErrorCode): e is EtcdStoreError =>
  e instanceof EtcdStoreError && (code === undefined || e.code === code);
