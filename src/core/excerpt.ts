/**
 * How a message quotes text that pilot did not write (image data, file contents): short,
 * escaped, quoted. An error must neither dump a whole file (a 60 MB one-line manifest, or
 * whatever a symlink pointed at) nor carry terminal escapes or bidi overrides to the
 * screen of whoever reads it.
 */

/** Characters a terminal would act on or that reorder text: C0, DEL, C1, bidi and lone surrogates. */
const UNSAFE =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]/;

const SHORT_ESCAPES: Record<string, string> = {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '"': '\\"',
  '\\': '\\\\',
};

function escapeChar(char: string): string {
  const short = SHORT_ESCAPES[char];
  if (short) return short;
  if (!UNSAFE.test(char)) return char;
  return codeEscape(char.charCodeAt(0));
}

/**
 * `text` with control characters escaped, cut to at most `max` characters (an escape is
 * never split; `…` marks the cut). For names inside a message: a path, a blob name.
 */
export function escapeExcerpt(text: string, max = 80): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i)!;
    // A valid surrogate pair is one character; a lone surrogate is escaped.
    const char = code > 0xffff ? String.fromCodePoint(code) : escapeChar(String.fromCharCode(code));
    if (out.length + char.length > max) return `${out}…`;
    out += char;
    i += code > 0xffff ? 2 : 1;
  }
  return out;
}

/**
 * A name read from disk (an app, an image ref, an instance, a file) as a listing prints
 * it: whole, with every character a terminal would act on escaped (`\x1b`, `\x0a`, …)
 * and backslashes doubled, so that an escape sequence or a newline cannot paint or fake
 * a row of `pilot ps`, `list`, `images` or `check`.
 */
export function escapeName(text: string): string {
  let out = '';
  for (const char of text) {
    if (char === '\\') out += '\\\\';
    else if (char.length === 1 && UNSAFE.test(char)) out += codeEscape(char.charCodeAt(0));
    else out += char;
  }
  return out;
}

function codeEscape(code: number): string {
  return code < 0x80
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` as escapeExcerpt gives it, in double quotes: for content read from a file. */
export function quoteExcerpt(text: string, max = 80): string {
  return `"${escapeExcerpt(text, max)}"`;
}

export interface TextPosition {
  /** 1-based, as editors count. */
  line: number;
  column: number;
  /** The line around the position, quoted by quoteExcerpt (`…` where it is cut). */
  excerpt: string;
}

/** Where `offset` falls in `text`, with a short quote of its line that starts a little before it. */
export function positionIn(text: string, offset: number, max = 80): TextPosition {
  const at = Math.max(0, Math.min(offset, text.length));
  const lineStart = text.lastIndexOf('\n', at - 1) + 1;
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < lineStart; i = text.indexOf('\n', i + 1)) line++;
  const lineEnd = text.indexOf('\n', at);
  const from = Math.max(lineStart, at - Math.floor(max / 3));
  const quoted = quoteExcerpt(text.slice(from, lineEnd === -1 ? text.length : lineEnd), max);
  return {
    line,
    column: at - lineStart + 1,
    excerpt: from > lineStart ? `…${quoted}` : quoted,
  };
}
