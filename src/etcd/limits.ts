import { EtcdStoreError } from './errors.js';

/**
 * etcd 3.4 rejects requests over `--max-request-bytes` (1.5 MiB) and transactions with more than
 * `--max-txn-ops` (128) operations in any one of their three lists: compares, success ops and
 * failure ops are each bounded, not their sum (etcd v3.4.23 etcdserver/api/v3rpc/key.go:147,
 * checkTxnRequest takes the largest of the three). Both limits are checked here, before sending:
 * the etcd3 client counts some rejections (gRPC RESOURCE_EXHAUSTED) as host failures, so one
 * oversized request would otherwise open the circuit breaker for every following call.
 */
export const MAX_TXN_OPS = 128;
/** Headroom below 1.5 MiB for keys, framing and the other operations of the request. */
export const MAX_VALUE_BYTES = 1024 * 1024;
export const MAX_REQUEST_BYTES = 1024 * 1024 + 256 * 1024;

export function checkValue(key: string, value: string | Buffer): void {
  const bytes = Buffer.byteLength(value);
  if (bytes > MAX_VALUE_BYTES) {
    throw new EtcdStoreError('ETCD_LIMIT', `value for ${key} is ${bytes} bytes, over the ${MAX_VALUE_BYTES}-byte limit Palisade keeps below etcd's 1.5 MiB request limit; split it or store it by content hash`);
  }
}

/** `ops`: the longest of the transaction's compare, success and failure lists. */
export function checkTxn(ops: number, bytes: number): void {
  if (ops > MAX_TXN_OPS) throw new EtcdStoreError('ETCD_LIMIT', `a transaction of ${ops} operations is over etcd's --max-txn-ops (${MAX_TXN_OPS}); split it`);
  if (bytes > MAX_REQUEST_BYTES) throw new EtcdStoreError('ETCD_LIMIT', `a transaction of ${bytes} bytes is over the ${MAX_REQUEST_BYTES}-byte limit Palisade keeps below etcd's 1.5 MiB; split it`);
}

/**
 * Splits items into batches that each stay within both limits. `opsOf`/`reservedOps` count the
 * transaction's longest list (compares or success ops), `bytesOf`/`reservedBytes` its whole size.
 */
export function batchesWithin<T>(items: readonly T[], opsOf: (item: T) => number, bytesOf: (item: T) => number, reservedOps = 0, reservedBytes = 0): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let ops = reservedOps;
  let bytes = reservedBytes;
  for (const item of items) {
    const o = opsOf(item);
    const b = bytesOf(item);
    if (current.length > 0 && (ops + o > MAX_TXN_OPS || bytes + b > MAX_REQUEST_BYTES)) {
      out.push(current);
      current = [];
      ops = reservedOps;
      bytes = reservedBytes;
    }
    checkTxn(reservedOps + o, reservedBytes + b);
    current.push(item);
    ops += o;
    bytes += b;
  }
  if (current.length > 0) out.push(current);
  return out;
}
