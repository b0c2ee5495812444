/**
 * Every key Palisade keeps in etcd, in one place. Versioned under `/palisade/v1/` so a future
 * layout can live next to this one during an upgrade.
 *
 *   /palisade/v1/events/<seq, 20 digits>       one event (JSON), the append-only log
 *   /palisade/v1/events-head                   highest seq; the compare-and-swap target of every append
 *   /palisade/v1/event-keys/<sha256(key)>      idempotency index: the seq that holds this key
 *   /palisade/v1/events-snapshot               {seq, state}: what deleted events folded into
 *   /palisade/v1/leader                        the elected reconciler (with its lease)
 *   /palisade/v1/rulesets/<sha256>/<part>      ruleset text by content hash, split in ≤ 512 KiB parts
 *   /palisade/v1/hosts/<host>/desired          what the host should run (reconciler writes)
 *   /palisade/v1/hosts/<host>/confirm          confirmation of one desired generation (reconciler writes)
 *   /palisade/v1/hosts/<host>/status           what the agent did last (agent writes)
 *   /palisade/v1/hosts/<host>/facts            the host's interfaces (agent writes at start)
 *   /palisade/v1/hosts/<host>/alive            liveness, attached to the agent's lease
 *   /palisade/v1/before/<revision>/<host>      what the host held before the revision (rollback target)
 */
import { createHash } from 'node:crypto';

export const ROOT = '/palisade/v1/';
export const EVENTS = `${ROOT}events/`;
export const EVENTS_HEAD = `${ROOT}events-head`;
export const EVENT_KEYS = `${ROOT}event-keys/`;
export const EVENTS_SNAPSHOT = `${ROOT}events-snapshot`;
export const LEADER = `${ROOT}leader`;
export const RULESETS = `${ROOT}rulesets/`;
export const HOSTS = `${ROOT}hosts/`;
export const BEFORE = `${ROOT}before/`;
export const beforePrefix = (revision: string) => `${BEFORE}${revision}/`;
export const beforeKey = (revision: string, host: string) => `${beforePrefix(revision)}${host}`;

const SEQ_DIGITS = 20;
export const eventKey = (seq: number) => `${EVENTS}${String(seq).padStart(SEQ_DIGITS, '0')}`;
export const seqOfEventKey = (key: string) => Number(key.slice(EVENTS.length));
export const eventIndexKey = (idempotencyKey: string) => `${EVENT_KEYS}${sha256(idempotencyKey)}`;

export const rulesetPrefix = (hash: string) => `${RULESETS}${hash}/`;
export const rulesetPartKey = (hash: string, part: number) => `${rulesetPrefix(hash)}${String(part).padStart(4, '0')}`;

export type HostKey = 'desired' | 'confirm' | 'status' | 'facts' | 'alive';
export const hostPrefix = (host: string) => `${HOSTS}${host}/`;
export const hostKey = (host: string, key: HostKey) => `${hostPrefix(host)}${key}`;

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
