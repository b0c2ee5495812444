import { crc32 } from 'node:zlib';

/**
 * On-disk framing of one event: `magic u32 | length u32 | crc32 u32 | payload`, little endian.
 * The checksum covers the length and the payload, so a damaged length is caught too. The magic
 * lets recovery look for intact records after a damaged one, which is what tells a torn tail
 * (nothing valid follows) from damage in the middle (acknowledged records follow).
 */
export const RECORD_MAGIC = 0x31564550; // "PEV1"
export const HEADER_BYTES = 12;
const MAGIC_BYTES = Buffer.from([0x50, 0x45, 0x56, 0x31]);

export function encodeRecord(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  out.writeUInt32LE(RECORD_MAGIC, 0);
  out.writeUInt32LE(payload.length, 4);
  payload.copy(out, HEADER_BYTES);
  out.writeUInt32LE(checksum(out, 4, payload.length), 8);
  return out;
}

function checksum(buf: Buffer, lengthAt: number, payloadLength: number): number {
  const len = buf.subarray(lengthAt, lengthAt + 4);
  const payload = buf.subarray(lengthAt + 8, lengthAt + 8 + payloadLength);
  return crc32(payload, crc32(len));
}

export type DecodeResult =
  | { kind: 'record'; payload: Buffer; next: number }
  /** The buffer ends inside this record: more bytes may follow (or the tail is torn). */
  | { kind: 'incomplete' }
  | { kind: 'bad'; reason: string };

/** Decodes the record starting at `offset`. Pure: callers decide what a bad record means. */
export function decodeRecord(buf: Buffer, offset: number): DecodeResult {
  if (buf.length - offset < HEADER_BYTES) return { kind: 'incomplete' };
  if (buf.readUInt32LE(offset) !== RECORD_MAGIC) return { kind: 'bad', reason: 'bad record marker' };
  const length = buf.readUInt32LE(offset + 4);
  const next = offset + HEADER_BYTES + length;
  if (next > buf.length) return { kind: 'incomplete' };
  if (checksum(buf, offset + 4, length) !== buf.readUInt32LE(offset + 8)) return { kind: 'bad', reason: 'checksum mismatch' };
  return { kind: 'record', payload: buf.subarray(offset + HEADER_BYTES, next), next };
}

/** Offset of the first intact record after `from`, or -1. Used only on the recovery path. */
export function findIntactRecordAfter(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(MAGIC_BYTES, from); at !== -1; at = buf.indexOf(MAGIC_BYTES, at + 1)) {
    if (decodeRecord(buf, at).kind === 'record') return at;
  }
  return -1;
}
