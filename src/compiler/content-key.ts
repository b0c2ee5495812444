/**
 * The JSON text of a resource, computed once per object: the content key the compile cache uses. Resources of a desired state are never
 * mutated, so memoising by object identity is safe.
 */
const memo = new WeakMap<object, string>();

export function contentKey(resource: object): string {
  let text = memo.get(resource);
  if (text === undefined) {
    text = JSON.stringify(resource);
    memo.set(resource, text);
  }
  return text;
}
