/**
 * Bytes that must survive as strings. A caller's arguments, environment and cwd
 * are bytes, not text: a host binary gets `caf\xe9` as those four bytes. Node
 * decodes them as UTF-8 and turns every invalid byte into U+FFFD, for good.
 *
 * The launcher therefore reads them as bytes (from /proc/self) and decodes them
 * the way Python's `surrogateescape` does: valid UTF-8 as usual, each byte of an
 * invalid sequence as the lone surrogate U+DC80..U+DCFF. Every string rule of the
 * planner (prefixes, equality, joins) keeps working, and `encodeBytes` gives the
 * exact bytes back: valid UTF-8 never decodes to a lone surrogate, so the mapping
 * is one to one. The exec helper receives the encoded bytes, never Node's
 * UTF-8 encoding of these strings.
 */
import { isUtf8 } from 'node:buffer';

const ESCAPE_BASE = 0xdc00;

/** The length of the valid UTF-8 sequence at `i`, or 0 when the byte there starts none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const lead = bytes[i] as number;
  if (lead < 0x80) return 1;
  let length: number;
  let min: number;
  if (lead >= 0xc2 && lead <= 0xdf) [length, min] = [2, 0x80];
  else if (lead >= 0xe0 && lead <= 0xef) [length, min] = [3, 0x800];
  else if (lead >= 0xf0 && lead <= 0xf4) [length, min] = [4, 0x10000];
  else return 0;
  if (i + length > bytes.length) return 0;
  let code = lead & (0xff >> (length + 1));
  for (let k = 1; k < length; k++) {
    const next = bytes[i + k] as number;
    if ((next & 0xc0) !== 0x80) return 0;
    code = (code << 6) | (next & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid.
  if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return 0;
  return length;
}

/** Bytes as a string: UTF-8, with each invalid byte as U+DC80..U+DCFF. */
export function decodeBytes(bytes: Uint8Array): string {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isUtf8(buffer)) return buffer.toString('utf8');
  let out = '';
  let start = 0;
  let i = 0;
  while (i < buffer.length) {
    const length = sequenceLength(buffer, i);
    if (length > 0) {
      i += length;
      continue;
    }
    out +=
      buffer.toString('utf8', start, i) + String.fromCharCode(ESCAPE_BASE + (buffer[i] as number));
    i += 1;
    start = i;
  }
  return out + buffer.toString('utf8', start);
}

/** The bytes a `decodeBytes` string stands for (other text is encoded as UTF-8). */
export function encodeBytes(text: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0xdc80 || unit > 0xdcff) continue;
    // A low surrogate after a high one is half of a real character, not an escape.
    const previous = i > 0 ? text.charCodeAt(i - 1) : 0;
    if (previous >= 0xd800 && previous <= 0xdbff) continue;
    parts.push(Buffer.from(text.slice(start, i), 'utf8'), Buffer.of(unit - ESCAPE_BASE));
    start = i + 1;
  }
  if (parts.length === 0) return Buffer.from(text, 'utf8');
  parts.push(Buffer.from(text.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** NUL-separated byte strings (as /proc/PID/cmdline and /proc/PID/environ give them). */
export function splitNul(data: Uint8Array): string[] {
  const buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const words: string[] = [];
  let start = 0;
  for (let end = buffer.indexOf(0); end >= 0; end = buffer.indexOf(0, start)) {
    words.push(decodeBytes(buffer.subarray(start, end)));
    start = end + 1;
  }
  if (start < buffer.length) words.push(decodeBytes(buffer.subarray(start)));
  return words;
}

/** Words as NUL-terminated bytes, each encoded with `encodeBytes`. */
export function joinNul(words: readonly string[]): Buffer {
  const nul = Buffer.of(0);
  return Buffer.concat(words.flatMap((word) => [encodeBytes(word), nul]));
}
