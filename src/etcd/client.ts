import { Etcd3, isRecoverableError, type ICompare, type IKeyValue, type IOptions, type IRequestOp, type ITxnResponse } from 'etcd3';
import { EtcdStoreError } from './errors.js';
import { checkTxn, checkValue } from './limits.js';

/**
 * The one way Palisade talks to etcd: a thin layer over the etcd3 client's raw KV calls that
 * enforces etcd's limits before sending, bounds every unary call with a deadline (so a cluster
 * without quorum produces an error that says so instead of a hang), and retries only errors
 * the client marks recoverable.
 */

const STORE_URL = /^etcd:\/\/([^/?#]+)\/?$/;
const ENDPOINT = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** `etcd://HOST:PORT[,HOST:PORT…]` → `['HOST:PORT', …]`. */
export function parseStoreUrl(url: string): string[] {
  const m = STORE_URL.exec(url);
  const endpoints = m ? m[1]!.split(',') : [];
  const bad = endpoints.find((e) => !ENDPOINT.test(e) || Number(e.slice(e.lastIndexOf(':') + 1)) > 65535);
  if (!m || endpoints.length === 0 || bad !== undefined) {
    throw new EtcdStoreError('ETCD_URL_INVALID', `--store ${JSON.stringify(url)} is not etcd://HOST:PORT[,HOST:PORT…]${bad !== undefined ? ` ('${bad}' is not HOST:PORT)` : ''}`);
  }
  return endpoints;
}

export interface EtcdOptions {
  /** Deadline of every unary call; streams (watch, lease keepalive) have none. Default 5 s. */
  callTimeoutMs?: number;
}

export type Op =
  | { put: string; value: string; lease?: string }
  | { del: string; prefix?: boolean }
  | { get: string; prefix?: boolean; limit?: number };

export type Compare =
  | { key: string; createRevision: string | number }
  | { key: string; modRevision: string | number }
  | { key: string; absent: true };

export interface TxnResult {
  succeeded: boolean;
  revision: string;
  /** One entry per operation of the branch that ran; `kvs` for gets. */
  responses: { kvs: IKeyValue[] }[];
}

export interface KeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  lease: string;
}

export interface RangeResult {
  kvs: KeyValue[];
  more: boolean;
  revision: string;
}

export class EtcdClient {
  readonly client: Etcd3;

  constructor(
    readonly endpoints: string[],
    opts: EtcdOptions = {},
  ) {
    const callTimeoutMs = opts.callTimeoutMs ?? 5000;
    const options: IOptions = {
      hosts: endpoints.map((e) => `http://${e}`),
      dialTimeout: callTimeoutMs,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
      grpcOptions: {
        // gRPC's default reconnect backoff grows to 2 minutes; a host agent whose path to etcd
        // came back (after a revert) must be heard from within seconds.
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2000,
        // Detect a silently dead connection (rules dropping packets) well within a confirm window;
        // etcd's --grpc-keepalive-min-time defaults to 5 s and pings at that very interval were
        // rejected as "excess pings" (measured), so twice that.
        'grpc.keepalive_time_ms': 10_000,
        'grpc.keepalive_timeout_ms': 3000,
        'grpc.keepalive_permit_without_calls': 1,
      },
      // One more attempt than endpoints: a call that lands on a stopped member is retried on
      // another instead of failing (the pool picks a random endpoint per attempt).
      faultHandling: { global: retryRecoverable(endpoints.length + 1, 100), host: () => recoverableBreaker(3, 1000) },
    };
    this.client = new Etcd3(options);
  }

  async get(key: string): Promise<KeyValue | null> {
    return (await this.range(key)).kvs[0] ?? null;
  }

  /** One key, or every key under `key` when `prefix`; `from` continues a paged listing. */
  async range(key: string, opts: { prefix?: boolean; limit?: number; from?: string; revision?: string } = {}): Promise<RangeResult> {
    const res = await this.call(() =>
      this.client.kv.range({
        key: Buffer.from(opts.from ?? key),
        ...(opts.prefix ? { range_end: prefixEnd(key) } : {}),
        ...(opts.limit ? { limit: opts.limit } : {}),
        ...(opts.revision ? { revision: opts.revision } : {}),
      }),
    );
    return { kvs: res.kvs.map(toKeyValue), more: res.more, revision: res.header.revision };
  }

  /** Every key under `prefix`, paged so no single response grows past the request limit. */
  async list(prefix: string, opts: { pageSize?: number; from?: string } = {}): Promise<{ kvs: KeyValue[]; revision: string }> {
    const pageSize = opts.pageSize ?? 256;
    const kvs: KeyValue[] = [];
    let revision: string | undefined;
    let from = opts.from;
    for (let page = 0; page < 1_000_000; page++) {
      const res = await this.range(prefix, { prefix: true, limit: pageSize, ...(from ? { from } : {}), ...(revision ? { revision } : {}) });
      // Later pages read at the first page's revision: one consistent listing.
      revision ??= res.revision;
      kvs.push(...res.kvs);
      if (!res.more || res.kvs.length === 0) break;
      from = `${res.kvs.at(-1)!.key}\0`;
    }
    return { kvs, revision: revision! };
  }

  async put(key: string, value: string, lease?: string): Promise<string> {
    checkValue(key, value);
    const res = await this.call(() => this.client.kv.put({ key: Buffer.from(key), value: Buffer.from(value), ...(lease ? { lease } : {}) }));
    return res.header.revision;
  }

  async txn(compare: readonly Compare[], success: readonly Op[], failure: readonly Op[] = []): Promise<TxnResult> {
    const ops = [...success, ...failure];
    let bytes = 0;
    for (const op of ops) {
      if ('put' in op) {
        checkValue(op.put, op.value);
        bytes += Buffer.byteLength(op.put) + Buffer.byteLength(op.value);
      } else bytes += Buffer.byteLength('get' in op ? op.get : op.del) * 2;
    }
    checkTxn(Math.max(compare.length, success.length, failure.length), bytes);
    const res: ITxnResponse = await this.call(() =>
      this.client.kv.txn({ compare: compare.map(toCompare), success: success.map(toRequestOp), failure: failure.map(toRequestOp) }),
    );
    return { succeeded: res.succeeded, revision: res.header.revision, responses: res.responses.map((r) => ({ kvs: r.response_range?.kvs ?? [] })) };
  }

  /** Drops MVCC history before `revision` (not the current keys): what `--auto-compaction-*` does on a schedule. */
  async compact(revision: string): Promise<void> {
    await this.call(() => this.client.kv.compact({ revision, physical: true }));
  }

  close(): void {
    this.client.close();
  }

  /** Turns the client's errors into Palisade's: unreachable/no quorum is ETCD_UNAVAILABLE. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw asStoreError(e, this.endpoints);
    }
  }
}

export function asStoreError(e: unknown, endpoints: readonly string[]): unknown {
  if (e instanceof EtcdStoreError) return e;
  const err = e as Error;
  if (isUnavailable(err)) {
    return new EtcdStoreError(
      'ETCD_UNAVAILABLE',
      `etcd at ${endpoints.join(',')} is unreachable or has no quorum (${err.message}); waiting — nothing is lost, the call is retried once etcd answers`,
      { cause: e },
    );
  }
  return e;
}

function isUnavailable(err: Error): boolean {
  return (
    (err instanceof Error && isRecoverableError(err)) ||
    err?.name === 'BrokenCircuitError' ||
    /request timed out|leader changed|no leader|timed out|Unavailable|deadline/i.test(err?.message ?? '')
  );
}

const toKeyValue = (kv: IKeyValue): KeyValue => ({
  key: kv.key.toString(),
  value: kv.value.toString(),
  createRevision: kv.create_revision,
  modRevision: kv.mod_revision,
  lease: kv.lease,
});

/** The range end that selects every key starting with `prefix`. */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = b[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

function toRequestOp(op: Op): IRequestOp {
  if ('put' in op) return { request_put: { key: Buffer.from(op.put), value: Buffer.from(op.value), ...(op.lease ? { lease: op.lease } : {}) } };
  if ('del' in op) return { request_delete_range: { key: Buffer.from(op.del), ...(op.prefix ? { range_end: prefixEnd(op.del) } : {}) } };
  return { request_range: { key: Buffer.from(op.get), ...(op.prefix ? { range_end: prefixEnd(op.get) } : {}), ...(op.limit ? { limit: op.limit } : {}) } };
}

function toCompare(c: Compare): ICompare {
  const key = Buffer.from(c.key);
  if ('absent' in c) return { key, target: 'Create', result: 'Equal', create_revision: 0 };
  if ('createRevision' in c) return { key, target: 'Create', result: 'Equal', create_revision: c.createRevision };
  return { key, target: 'Mod', result: 'Equal', mod_revision: c.modRevision } as ICompare;
}

type Policy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * Retries a call only when the client marks the error recoverable (network, server restart,
 * leader change); every other error (too large, bad request, failed compare) fails at once.
 */
function retryRecoverable(attempts: number, delayMs: number): Policy {
  return asPolicy(async (fn) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (attempt >= attempts || !(e instanceof Error) || !isRecoverableError(e)) throw e;
        await new Promise((r) => setTimeout(r, delayMs * attempt));
      }
    }
  });
}

/**
 * Per-endpoint breaker: after `threshold` consecutive recoverable failures the endpoint is
 * skipped for `openMs` (the pool tries the next one), then tried again. Non-recoverable errors
 * never count, so a bad request cannot take a healthy endpoint out.
 */
function recoverableBreaker(threshold: number, openMs: number): Policy {
  let failures = 0;
  let openUntil = 0;
  return asPolicy(async (fn) => {
    if (Date.now() < openUntil) {
      const e = new Error(`endpoint skipped for ${openMs} ms after ${threshold} consecutive connection failures`);
      e.name = 'BrokenCircuitError';
      throw e;
    }
    try {
      const result = await fn();
      failures = 0;
      return result;
    } catch (e) {
      if (e instanceof Error && isRecoverableError(e) && ++failures >= threshold) {
        failures = 0;
        openUntil = Date.now() + openMs;
      }
      throw e;
    }
  });
}

/** The etcd3 client only ever calls `execute` on its policies. */
function asPolicy(execute: <T>(fn: () => PromiseLike<T> | T) => Promise<T>): Policy {
  return { execute: (fn: (ctx: { signal: AbortSignal }) => unknown) => execute(() => fn({ signal: new AbortController().signal })) } as unknown as Policy;
}
