/**
 * A unified diff of two texts, line by line (Myers' algorithm), with `context` lines around each
 * change. Rulesets differ in a few lines out of hundreds, so this stays small; a diff with more
 * than MAX_EDITS edits is shown as a whole replacement rather than searched further.
 */
const MAX_EDITS = 2000;

export type Op = { kind: ' ' | '-' | '+'; line: string };

export function unifiedDiff(before: string, after: string, context = 2): string {
  if (before === after) return '';
  const a = before.split('\n');
  const b = after.split('\n');
  const ops = editScript(a, b) ?? [...a.map((line): Op => ({ kind: '-', line })), ...b.map((line): Op => ({ kind: '+', line }))];
  return hunks(ops, context).join('\n');
}

/** The shortest edit script turning `a` into `b`; null when it needs more than MAX_EDITS edits. */
export function editScript(a: readonly string[], b: readonly string[]): Op[] | null {
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDITS);
  const offset = max + 1;
  let v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    const next = v.slice();
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      next[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, offset, d);
    }
    v = next;
  }
  return null;
}

function backtrack(trace: Int32Array[], a: readonly string[], b: readonly string[], offset: number, dEnd: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > (down ? prevX : prevX + 1) && y > (down ? prevY + 1 : prevY)) ops.push({ kind: ' ', line: a[--x]! }), y--;
    if (down) ops.push({ kind: '+', line: b[--y]! });
    else ops.push({ kind: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) ops.push({ kind: ' ', line: a[--x]! }), y--;
  return ops.reverse();
}

function hunks(ops: Op[], context: number): string[] {
  const out: string[] = [];
  let i = 0;
  const pos = { a: 1, b: 1 };
  const positions = ops.map((op) => {
    const at = { a: pos.a, b: pos.b };
    if (op.kind !== '+') pos.a++;
    if (op.kind !== '-') pos.b++;
    return at;
  });
  while (i < ops.length) {
    if (ops[i]!.kind === ' ') {
      i++;
      continue;
    }
    const start = Math.max(0, i - context);
    let end = i;
    // Extend while the next change is within 2×context unchanged lines.
    for (let j = i; j < ops.length; j++) {
      if (ops[j]!.kind !== ' ') end = j;
      else if (j - end > 2 * context) break;
    }
    const stop = Math.min(ops.length, end + context + 1);
    const slice = ops.slice(start, stop);
    const at = positions[start]!;
    const aLen = slice.filter((o) => o.kind !== '+').length;
    const bLen = slice.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${at.a},${aLen} +${at.b},${bLen} @@`, ...slice.map((o) => `${o.kind}${o.line}`));
    i = stop;
  }
  return out;
}
