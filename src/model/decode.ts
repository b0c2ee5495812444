/** Turning file bytes into text, or saying precisely why they are not policy text. */

export const MAX_FILE_BYTES = 1024 * 1024;

export type DecodeResult =
  | { ok: true; text: string }
  | { ok: false; code: 'FILE_TOO_LARGE' | 'BINARY_FILE' | 'NOT_UTF8'; message: string; offset: number };

/** Offset of the first byte that breaks UTF-8 (overlongs and surrogates included), or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const [len, min] = b < 0x80 ? [1, 0] : b >= 0xc2 && b <= 0xdf ? [2, 0x80] : b >= 0xe0 && b <= 0xef ? [3, 0x800] : b >= 0xf0 && b <= 0xf4 ? [4, 0x10000] : [0, 0];
    if (len === 0 || i + len > bytes.length) return i;
    let cp = len === 1 ? b : b & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) {
      const c = bytes[i + k]!;
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return -1;
}

export function decodePolicyFile(content: string | Uint8Array, maxBytes = MAX_FILE_BYTES): DecodeResult {
  const size = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.length;
  if (size > maxBytes) return { ok: false, code: 'FILE_TOO_LARGE', message: `file is ${size} bytes, larger than the ${maxBytes}-byte limit`, offset: 0 };
  if (typeof content === 'string') return checkText(content.replace(/^\uFEFF/, ''));
  if ((content[0] === 0xff && content[1] === 0xfe) || (content[0] === 0xfe && content[1] === 0xff)) {
    return { ok: false, code: 'NOT_UTF8', message: 'file is UTF-16; save it as UTF-8', offset: 0 };
  }
  const bad = firstInvalidUtf8(content);
  const nul = content.indexOf(0);
  if (nul >= 0 && (bad < 0 || nul < bad)) return { ok: false, code: 'BINARY_FILE', message: `binary file (NUL byte at offset ${nul})`, offset: nul };
  if (bad >= 0) return { ok: false, code: 'NOT_UTF8', message: `file is not valid UTF-8 (byte 0x${content[bad]!.toString(16).padStart(2, '0')} at offset ${bad})`, offset: bad };
  return checkText(Buffer.from(content).toString('utf8').replace(/^\uFEFF/, ''));
}

function checkText(text: string): DecodeResult {
  const nul = text.indexOf('\0');
  if (nul >= 0) return { ok: false, code: 'BINARY_FILE', message: `binary file (NUL character at offset ${nul})`, offset: nul };
  return { ok: true, text };
}

/** 1-based line and column of a byte offset, for errors found before the text could be decoded. */
export function lineColOfByte(content: string | Uint8Array, offset: number): { line: number; col: number } {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < bytes.length; i++) {
    if (bytes[i] === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}
