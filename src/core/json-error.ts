/**
 * Where a JSON text goes wrong. V8's JSON.parse messages quote the input itself
 * (`Unexpected token 'r', "root:$y$j9"... is not valid JSON`) and give no position for
 * that kind of error, so a message built on them could show a stranger's file and
 * could not say where the mistake is. This scanner follows RFC 8259 and stops at the
 * first character that cannot continue a JSON text. Iterative: nesting depth costs no
 * stack.
 */
import { positionIn } from './excerpt.js';

const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const LITERALS = ['true', 'false', 'null'];

class JsonScanner {
  i = 0;
  constructor(private readonly text: string) {}

  private at(): string | undefined {
    return this.text[this.i];
  }

  skipSpace(): void {
    while (' \t\n\r'.includes(this.text[this.i] ?? 'x')) this.i++;
  }

  private digits(): boolean {
    const start = this.i;
    while (/[0-9]/.test(this.at() ?? '')) this.i++;
    return this.i > start;
  }

  string(): boolean {
    if (this.at() !== '"') return false;
    this.i++;
    for (;;) {
      const char = this.at();
      if (char === undefined || char < ' ') return false;
      this.i++;
      if (char === '"') return true;
      if (char !== '\\') continue;
      const escaped = this.at();
      if (escaped === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 1, this.i + 5))) return false;
        this.i += 5;
      } else if (escaped !== undefined && ESCAPES.has(escaped)) this.i++;
      else return false;
    }
  }

  private number(): boolean {
    if (this.at() === '-') this.i++;
    if (this.at() === '0') this.i++;
    else if (!/[1-9]/.test(this.at() ?? '') || !this.digits()) return false;
    if (this.at() === '.') {
      this.i++;
      if (!this.digits()) return false;
    }
    if (this.at() === 'e' || this.at() === 'E') {
      this.i++;
      if (this.at() === '+' || this.at() === '-') this.i++;
      if (!this.digits()) return false;
    }
    return true;
  }

  scalar(): boolean {
    const char = this.at();
    if (char === '"') return this.string();
    if (char === '-' || /[0-9]/.test(char ?? '')) return this.number();
    const literal = LITERALS.find((word) => this.text.startsWith(word, this.i));
    if (!literal) return false;
    this.i += literal.length;
    return true;
  }

  /** `"key" :` with the blanks around it. */
  key(): boolean {
    this.skipSpace();
    if (!this.string()) return false;
    this.skipSpace();
    if (this.at() !== ':') return false;
    this.i++;
    return true;
  }
}

/** The offset of the first character that makes `text` invalid JSON, or undefined when it is valid. */
export function jsonErrorOffset(text: string): number | undefined {
  const scan = new JsonScanner(text);
  const open: string[] = []; // closing brackets of the containers we are in
  for (;;) {
    // A value.
    scan.skipSpace();
    const char = text[scan.i];
    if (char === '{' || char === '[') {
      scan.i++;
      scan.skipSpace();
      const close = char === '{' ? '}' : ']';
      if (text[scan.i] === close) scan.i++;
      else {
        open.push(close);
        if (close === '}' && !scan.key()) return scan.i;
        continue;
      }
    } else if (!scan.scalar()) return scan.i;
    // After a value: a comma, a closing bracket, or the end.
    for (;;) {
      scan.skipSpace();
      const close = open.at(-1);
      if (close === undefined) return scan.i === text.length ? undefined : scan.i;
      const next = text[scan.i];
      if (next === close) {
        scan.i++;
        open.pop();
        continue;
      }
      if (next !== ',') return scan.i;
      scan.i++;
      if (close === '}' && !scan.key()) return scan.i;
      break;
    }
  }
}

/**
 * `text` parsed as JSON; when it is not JSON, `fail` is handed what describeJsonError
 * says (never V8's message: it quotes the input raw, escapes and all) and its error thrown.
 */
export function parseJsonText(text: string, name: string, fail: (why: string) => Error): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw fail(describeJsonError(name, text));
  }
}

/**
 * Why `text`, the file `name`, is not JSON: `name:LINE:COLUMN: not valid JSON near "…"`.
 * Use it where JSON.parse failed, in place of V8's message.
 */
export function describeJsonError(name: string, text: string): string {
  const at = positionIn(text, jsonErrorOffset(text) ?? 0);
  return `${name}:${at.line}:${at.column}: not valid JSON near ${at.excerpt}`;
}
