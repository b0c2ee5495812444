/**
 * An immutable list, newest first, whose versions share their tails: adding is O(1) and never
 * copies, so machine context can grow by one entry per event without each event copying all
 * the entries before it (quadratic in the fleet).
 */
export type Chain<T> = { readonly head: T; readonly tail: Chain<T> } | null;

export const prepend = <T>(head: T, tail: Chain<T>): Chain<T> => ({ head, tail });

export function chainOf<T>(oldestFirst: readonly T[]): Chain<T> {
  return oldestFirst.reduce<Chain<T>>((tail, head) => prepend(head, tail), null);
}

export function newestFirst<T>(chain: Chain<T>): T[] {
  const out: T[] = [];
  for (let c = chain; c; c = c.tail) out.push(c.head);
  return out;
}
