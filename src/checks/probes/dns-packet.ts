/**
 * Just enough of RFC 1035 to ask one question and to tell a well-formed answer from noise:
 * pure functions over bytes, no I/O.
 */

export class DnsPacketError extends Error {
  constructor(
    readonly code: 'DNS_BAD_NAME' | 'DNS_MALFORMED',
    message: string,
  ) {
    super(message);
    this.name = 'DnsPacketError';
  }
}

export const DNS_TYPE_A = 1;
export const DNS_TYPE_NS = 2;
const CLASS_IN = 1;
const HEADER_BYTES = 12;
const MAX_NAME_BYTES = 255;
const MAX_LABEL_BYTES = 63;
/** Compression pointers followed while reading one name; more means a loop. */
const MAX_POINTER_HOPS = 32;

/** `example.org`, `example.org.` or `.` (the root) as DNS labels; throws DNS_BAD_NAME. */
export function encodeName(name: string): Uint8Array {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const labels = trimmed === '' ? [] : trimmed.split('.');
  const bytes: number[] = [];
  for (const label of labels) {
    if (label.length === 0) throw new DnsPacketError('DNS_BAD_NAME', `'${name}' has an empty label`);
    if (!/^[\x21-\x7e]+$/.test(label)) throw new DnsPacketError('DNS_BAD_NAME', `'${name}' has a label with characters other than printable ASCII`);
    if (label.length > MAX_LABEL_BYTES) throw new DnsPacketError('DNS_BAD_NAME', `'${name}' has a label longer than ${MAX_LABEL_BYTES} bytes`);
    bytes.push(label.length, ...Buffer.from(label, 'ascii'));
  }
  bytes.push(0);
  if (bytes.length > MAX_NAME_BYTES) throw new DnsPacketError('DNS_BAD_NAME', `'${name}' is longer than ${MAX_NAME_BYTES} bytes`);
  return Uint8Array.from(bytes);
}

/** The question a check asks: NS for the root (any resolver or root-aware server answers), A otherwise. */
export const queryType = (name: string): number => (name === '.' || name === '' ? DNS_TYPE_NS : DNS_TYPE_A);

/** A standard query with recursion desired and one question (class IN). */
export function buildDnsQuery(id: number, name: string): Uint8Array {
  if (!Number.isInteger(id) || id < 0 || id > 0xffff) throw new RangeError(`DNS id ${id} is not a 16-bit number`);
  const qname = encodeName(name);
  const packet = new Uint8Array(HEADER_BYTES + qname.length + 4);
  const view = new DataView(packet.buffer);
  view.setUint16(0, id);
  view.setUint16(2, 0x0100); // RD
  view.setUint16(4, 1); // QDCOUNT
  packet.set(qname, HEADER_BYTES);
  view.setUint16(HEADER_BYTES + qname.length, queryType(name));
  view.setUint16(HEADER_BYTES + qname.length + 2, CLASS_IN);
  return packet;
}

export interface DnsQuestion {
  name: string;
  type: number;
  class: number;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  truncated: boolean;
  rcode: number;
  questions: DnsQuestion[];
  /** Resource records in the answer, authority and additional sections. */
  answers: number;
  authorities: number;
  additionals: number;
}

/**
 * Parses a message, checking every section stays within the bytes it came in; throws
 * DNS_MALFORMED otherwise. A truncated (TC) message only needs a sound header and questions,
 * since its record sections may be cut short by design.
 */
export function parseDnsMessage(bytes: Uint8Array): DnsMessage {
  if (bytes.length < HEADER_BYTES) throw new DnsPacketError('DNS_MALFORMED', `${bytes.length} bytes is shorter than a DNS header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = view.getUint16(2);
  const counts = [view.getUint16(4), view.getUint16(6), view.getUint16(8), view.getUint16(10)] as const;
  const truncated = (flags & 0x0200) !== 0;
  let offset = HEADER_BYTES;
  const questions: DnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const { name, end } = readName(bytes, offset);
    need(bytes, end, 4, 'question');
    questions.push({ name, type: view.getUint16(end), class: view.getUint16(end + 2) });
    offset = end + 4;
  }
  if (!truncated) {
    for (let i = 0; i < counts[1] + counts[2] + counts[3]; i++) {
      const { end } = readName(bytes, offset);
      need(bytes, end, 10, 'resource record');
      const rdlength = view.getUint16(end + 8);
      need(bytes, end + 10, rdlength, 'resource record data');
      offset = end + 10 + rdlength;
    }
  }
  return {
    id: view.getUint16(0),
    response: (flags & 0x8000) !== 0,
    truncated,
    rcode: flags & 0x000f,
    questions,
    answers: counts[1],
    authorities: counts[2],
    additionals: counts[3],
  };
}

/** Is `reply` a well-formed response to the query with `id`? Says why not. */
export function judgeDnsReply(id: number, reply: Uint8Array): { ok: true; rcode: number } | { ok: false; why: string } {
  let message: DnsMessage;
  try {
    message = parseDnsMessage(reply);
  } catch (e) {
    return { ok: false, why: `malformed reply: ${(e as Error).message}` };
  }
  if (!message.response) return { ok: false, why: 'reply is not a response (QR bit clear)' };
  if (message.id !== id) return { ok: false, why: `reply id ${message.id} does not match query id ${id}` };
  return { ok: true, rcode: message.rcode };
}

function need(bytes: Uint8Array, offset: number, length: number, what: string): void {
  if (offset + length > bytes.length) throw new DnsPacketError('DNS_MALFORMED', `${what} at byte ${offset} runs past the end of the message`);
}

/** Reads a (possibly compressed) name; `end` is where the name ends in place. */
function readName(bytes: Uint8Array, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end: number | undefined;
  let length = 1;
  for (let hops = 0; ; ) {
    need(bytes, offset, 1, 'name');
    const len = bytes[offset]!;
    if (len === 0) {
      end ??= offset + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      need(bytes, offset, 2, 'name pointer');
      if (++hops > MAX_POINTER_HOPS) throw new DnsPacketError('DNS_MALFORMED', `name at byte ${start} has a compression loop`);
      end ??= offset + 2;
      offset = ((len & 0x3f) << 8) | bytes[offset + 1]!;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new DnsPacketError('DNS_MALFORMED', `name at byte ${start} uses reserved label type 0x${len.toString(16)}`);
    need(bytes, offset + 1, len, 'label');
    length += len + 1;
    if (length > MAX_NAME_BYTES) throw new DnsPacketError('DNS_MALFORMED', `name at byte ${start} is longer than ${MAX_NAME_BYTES} bytes`);
    labels.push(Buffer.from(bytes.subarray(offset + 1, offset + 1 + len)).toString('latin1'));
    offset += len + 1;
  }
  return { name: labels.length === 0 ? '.' : `${labels.join('.')}.`, end };
}
