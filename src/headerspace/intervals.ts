/**
 * Sets of integers as sorted, disjoint, non-adjacent closed intervals, flattened as
 * `[lo0, hi0, lo1, hi1, …]`. Bigints, because one dimension is a 128-bit IPv6 address. The
 * canonical form makes equality a comparison of arrays.
 */
export type IntervalSet = readonly bigint[];

export const EMPTY: IntervalSet = [];

export const range = (lo: bigint, hi: bigint): IntervalSet => (lo <= hi ? [lo, hi] : EMPTY);
export const point = (v: bigint): IntervalSet => [v, v];

export const isEmpty = (s: IntervalSet): boolean => s.length === 0;

/** Any list of possibly overlapping intervals, in canonical form. */
export function fromIntervals(list: readonly (readonly [bigint, bigint])[]): IntervalSet {
  const sorted = list.filter(([lo, hi]) => lo <= hi).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: bigint[] = [];
  for (const [lo, hi] of sorted) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1]! + 1n) {
      if (hi > out[n - 1]!) out[n - 1] = hi;
    } else out.push(lo, hi);
  }
  return out;
}

export function intersect(a: IntervalSet, b: IntervalSet): IntervalSet {
  if (a.length === 0 || b.length === 0) return EMPTY;
  if (a === b) return a;
  const out: bigint[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = a[i]! > b[j]! ? a[i]! : b[j]!;
    const hi = a[i + 1]! < b[j + 1]! ? a[i + 1]! : b[j + 1]!;
    if (lo <= hi) out.push(lo, hi);
    if (a[i + 1]! < b[j + 1]!) i += 2;
    else j += 2;
  }
  return out;
}

export function subtract(a: IntervalSet, b: IntervalSet): IntervalSet {
  if (a.length === 0 || b.length === 0) return a;
  const out: bigint[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let lo = a[i]!;
    const hi = a[i + 1]!;
    while (j < b.length && b[j + 1]! < lo) j += 2;
    let k = j;
    while (k < b.length && b[k]! <= hi) {
      if (b[k]! > lo) out.push(lo, b[k]! - 1n);
      lo = b[k + 1]! + 1n;
      if (lo > hi) break;
      k += 2;
    }
    if (lo <= hi) out.push(lo, hi);
  }
  return out;
}

export function union(a: IntervalSet, b: IntervalSet): IntervalSet {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const pairs: [bigint, bigint][] = [];
  for (let i = 0; i < a.length; i += 2) pairs.push([a[i]!, a[i + 1]!]);
  for (let i = 0; i < b.length; i += 2) pairs.push([b[i]!, b[i + 1]!]);
  return fromIntervals(pairs);
}

export function equals(a: IntervalSet, b: IntervalSet): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function has(s: IntervalSet, v: bigint): boolean {
  let lo = 0;
  let hi = s.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (s[2 * mid + 1]! < v) lo = mid + 1;
    else if (s[2 * mid]! > v) hi = mid - 1;
    else return true;
  }
  return false;
}

/** Whether every member of `inner` is in `outer`. */
export const isSubset = (inner: IntervalSet, outer: IntervalSet): boolean => subtract(inner, outer).length === 0;

export function pairs(s: IntervalSet): [bigint, bigint][] {
  const out: [bigint, bigint][] = [];
  for (let i = 0; i < s.length; i += 2) out.push([s[i]!, s[i + 1]!]);
  return out;
}

/** Number of members (for sizing and sampling). */
export function size(s: IntervalSet): bigint {
  let n = 0n;
  for (let i = 0; i < s.length; i += 2) n += s[i + 1]! - s[i]! + 1n;
  return n;
}

/** The `k`-th member (0-based, `k < size(s)`). */
export function nth(s: IntervalSet, k: bigint): bigint {
  for (let i = 0; i < s.length; i += 2) {
    const n = s[i + 1]! - s[i]! + 1n;
    if (k < n) return s[i]! + k;
    k -= n;
  }
  throw new RangeError('index outside the set');
}

export const key = (s: IntervalSet): string => s.join(',');
