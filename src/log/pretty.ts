/**
 * Log lines for a person at a terminal: `16:23:09 WARN  node-a: verifying → rollingBack  revision=082b57bc wave=0 reason=…`.
 * The same records as the JSON lines (pino writes them here instead of to stdout), so nothing
 * a field says is lost; only the fields every line carries are left out.
 */
const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO ', color: '32' },
  40: { name: 'WARN ', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '35' },
};
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'simulated', 'pid', 'hostname']);
/** Fields people look for first, in this order; the rest follow as they come. */
const FIRST = ['event', 'revision', 'host', 'wave', 'state'];

export function formatPretty(line: string, color: boolean): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = LEVELS[record.level as number] ?? { name: String(record.level), color: '0' };
  const time = typeof record.time === 'string' ? record.time.slice(11, 19) : new Date(Number(record.time ?? Date.now())).toISOString().slice(11, 19);
  const msg = String(record.msg ?? '');
  // A one-liner: what the message already says (`node-a: verifying → rollingBack`) is not repeated.
  const said = (k: string) => (typeof record[k] === 'string' && k !== 'revision' && msg.includes(record[k] as string)) || (k === 'failingChecks' && 'reason' in record);
  const keys = [...FIRST.filter((k) => k in record), ...Object.keys(record).filter((k) => !FIRST.includes(k))].filter((k) => !HIDDEN.has(k) && record[k] !== undefined && !said(k));
  const fields = keys.map((k) => `${k}=${show(k, record[k])}`).join(' ');
  const name = color ? `\x1b[${level.color}m${level.name}\x1b[0m` : level.name;
  const rest = fields ? `  ${color ? `\x1b[2m${fields}\x1b[0m` : fields}` : '';
  return `${time} ${name} ${record.simulated ? '[simulated] ' : ''}${msg}${rest}\n`;
}

function show(key: string, v: unknown): string {
  if (key === 'revision' && typeof v === 'string' && /^[0-9a-f]{40}$/.test(v)) return v.slice(0, 8);
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object' && 'message' in v) return JSON.stringify((v as { message: unknown }).message);
  return JSON.stringify(v);
}

/** A pino destination that writes `formatPretty` lines synchronously to a file descriptor's stream. */
export function prettyDestination(out: { write(s: string): unknown }, color: boolean): { write(line: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) out.write(formatPretty(line, color));
    },
  };
}
