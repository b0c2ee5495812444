import type { EtcdClient } from './client.js';
import { EtcdStoreError } from './errors.js';
import type { PutWriter } from './fence.js';
import { rulesetPartKey, rulesetPrefix, sha256 } from './keys.js';
import { batchesWithin } from './limits.js';

/**
 * Ruleset texts stored by content hash, split into parts so no value nears etcd's request
 * limit: a 5 MB ruleset is ~20 parts written in a few transactions before the desired key
 * that names it. Equal rulesets (most hosts of a fleet) are stored once.
 */

/** Characters per part: ≤ 1 MiB even if every character took 4 bytes in UTF-8. */
export const PART_CHARS = 256 * 1024;

export interface StoredRuleset {
  hash: string;
  parts: number;
}

/** The parts a text is stored as; `hash` is its sha256 (the same as the compiler's rulesetHash). */
export function splitRuleset(text: string): { hash: string; parts: string[] } {
  const parts: string[] = [];
  for (let i = 0; i < text.length || parts.length === 0; i += PART_CHARS) parts.push(text.slice(i, i + PART_CHARS));
  return { hash: sha256(text), parts };
}

export async function putRuleset(etcd: EtcdClient, text: string): Promise<StoredRuleset> {
  const { hash, parts } = splitRuleset(text);
  if (parts.length === 1) {
    // One part (any ruleset under 256 Ki characters): written only if absent, in one round trip.
    await etcd.txn([{ key: rulesetPartKey(hash, 0), absent: true }], [{ put: rulesetPartKey(hash, 0), value: parts[0]! }]);
    return { hash, parts: 1 };
  }
  if (await etcd.get(rulesetPartKey(hash, parts.length - 1))) return { hash, parts: parts.length };
  const indexed = parts.map((value, i) => ({ key: rulesetPartKey(hash, i), value }));
  // The last part is written last, so its presence (checked above) means the set is complete.
  for (const batch of batchesWithin(indexed, () => 1, (p) => Buffer.byteLength(p.value) + p.key.length)) {
    await etcd.txn([], batch.map((p) => ({ put: p.key, value: p.value })));
  }
  return { hash, parts: parts.length };
}

/**
 * The leader's ruleset store for one term: each ruleset is written once however many hosts apply
 * it, and a one-part ruleset goes through the term's batched writer, so a wave of a thousand hosts
 * with a thousand different rulesets stores them in a few transactions instead of a thousand.
 * The put itself is plain (content-addressed: writing equal content again changes nothing an
 * agent reads), fenced by the writer like every leader write.
 */
export class RulesetWriter {
  private readonly stored = new Map<string, Promise<StoredRuleset>>();

  constructor(
    private readonly etcd: EtcdClient,
    private readonly write: PutWriter,
  ) {}

  /** `hash` when the caller has it (the compiler's rulesetHash is the sha256 of the text). */
  put(text: string, hash?: string): Promise<StoredRuleset> {
    const key = hash ?? sha256(text);
    let done = this.stored.get(key);
    if (!done) {
      done = text.length <= PART_CHARS ? this.write(rulesetPartKey(key, 0), text).then(() => ({ hash: key, parts: 1 })) : putRuleset(this.etcd, text);
      // A failed write is not remembered: the next apply tries again.
      done.catch(() => this.stored.delete(key));
      this.stored.set(key, done);
    }
    return done;
  }

  /** An agent could not use what is stored under `hash`: the next apply writes it again. */
  forget(hash: string): void {
    this.stored.delete(hash);
  }
}

export async function getRuleset(etcd: EtcdClient, ref: StoredRuleset): Promise<string> {
  const { kvs } = await etcd.list(rulesetPrefix(ref.hash), { pageSize: 2 });
  const text = kvs.map((kv) => kv.value).join('');
  if (kvs.length !== ref.parts || sha256(text) !== ref.hash) {
    throw new EtcdStoreError('ETCD_DATA', `ruleset ${ref.hash} in etcd is incomplete or damaged (${kvs.length} of ${ref.parts} parts); the reconciler rewrites it on its next apply`);
  }
  return text;
}
