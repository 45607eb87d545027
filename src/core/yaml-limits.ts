/**
 * Limits a flake's text must meet before the YAML library reads it. The library composes
 * nested collections recursively: some 900 levels (`[[[[…`) exhaust the stack, and after
 * that has happened once, V8 may abort the whole process (a regular expression compiled
 * near the limit runs out of memory), which no catch can turn into a message. So the
 * nesting is estimated here first, in one linear pass over the text.
 *
 * The estimate errs on the high side (brackets inside block scalars or multi-line quoted
 * strings count too), and its limit is far above the depth a flake may really have
 * (flake-file.ts checks that exactly, while converting): only absurd text is refused here.
 */

/** Real flakes are a few hundred bytes; the YAML library reads 256 KiB in well under 0.2 s. */
export const MAX_FLAKE_BYTES = 256 * 1024;
/** Estimated levels; the stack gives out near 900. */
export const MAX_SCANNED_NESTING = 100;

/** A quote opens a quoted scalar only where a token starts; `don't` is a plain word. */
const TOKEN_START = new Set([' ', '\t', '[', '{', ',', ':', '-', '?', '\n', undefined]);

/**
 * The 1-based line where `text` nests deeper than `limit` levels (block indentation and
 * `- `/`? ` markers, plus open flow brackets outside quotes and comments), or undefined.
 */
export function excessiveNestingLine(
  text: string,
  limit = MAX_SCANNED_NESTING,
): number | undefined {
  const indents: number[] = [];
  let flow = 0;
  let line = 1;
  let i = 0;
  while (i < text.length) {
    let indent = 0;
    while (text[i] === ' ') {
      i++;
      indent++;
    }
    const blank = i >= text.length || text[i] === '\n' || text[i] === '\r' || text[i] === '#';
    if (flow === 0 && !blank) {
      while (indents.length > 0 && indents[indents.length - 1]! >= indent) indents.pop();
      indents.push(indent);
    }
    // `- - - x`: each marker on the line opens one more level.
    let markers = 0;
    while ((text[i] === '-' || text[i] === '?') && (text[i + 1] === ' ' || text[i + 1] === '\t')) {
      markers++;
      i += 2;
      while (text[i] === ' ' || text[i] === '\t') i++;
    }
    if (indents.length + markers + flow > limit) return line;
    let quote: string | undefined;
    for (; i < text.length && text[i] !== '\n'; i++) {
      const char = text[i]!;
      if (quote !== undefined) {
        if (char === '\\' && quote === '"') i++;
        else if (char === quote) quote = undefined;
        continue;
      }
      if ((char === '"' || char === "'") && TOKEN_START.has(text[i - 1])) quote = char;
      else if (char === '#' && (text[i - 1] === ' ' || text[i - 1] === '\t')) {
        while (i + 1 < text.length && text[i + 1] !== '\n') i++;
      } else if (char === '[' || char === '{') {
        flow++;
        if (indents.length + markers + flow > limit) return line;
      } else if ((char === ']' || char === '}') && flow > 0) flow--;
    }
    i++;
    line++;
  }
  return undefined;
}
