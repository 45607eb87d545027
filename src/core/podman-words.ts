/**
 * The words of a flake's `runtime.podman` list, and flake-pilot's `%VAR` placeholders.
 *
 * flake-pilot passes these strings to `podman run`, so the list is one argument vector:
 * "--storage-opt size=10G" is one item with two words, and an option and its value may
 * sit in two items. flake-ctl writes an option escaped (`\--net host`); the backslash
 * reads as it would in a shell, so that is the option `--net`.
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';

/**
 * Splits one list item into words the way a POSIX shell would for simple quoting:
 * '…' is literal, "…" allows \" \\ \$ \`, a backslash outside quotes escapes the next
 * character. The value after `--entrypoint` may be an unquoted JSON array (podman's
 * documented form, e.g. `--entrypoint ["/bin/sh", "-c"]`): it is kept verbatim.
 */
export function splitPodmanWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (i < n && /\s/.test(text[i]!)) i++;
    if (i >= n) break;

    const previous = words[words.length - 1];
    if (text[i] === '[' && previous === '--entrypoint') {
      const end = jsonArrayEnd(text, i);
      words.push(text.slice(i, end));
      i = end;
      continue;
    }
    if (text.startsWith('--entrypoint=[', i)) {
      const start = i + '--entrypoint='.length;
      const end = jsonArrayEnd(text, start);
      words.push(text.slice(i, end));
      i = end;
      continue;
    }

    let word = '';
    while (i < n && !/\s/.test(text[i]!)) {
      const char = text[i]!;
      if (char === "'") {
        const close = text.indexOf("'", i + 1);
        if (close < 0) throw unterminated(text, "'");
        word += text.slice(i + 1, close);
        i = close + 1;
      } else if (char === '"') {
        i++;
        for (;;) {
          if (i >= n) throw unterminated(text, '"');
          const inner = text[i]!;
          if (inner === '"') {
            i++;
            break;
          }
          if (inner === '\\' && i + 1 < n && '"\\$`'.includes(text[i + 1]!)) {
            word += text[i + 1];
            i += 2;
          } else {
            word += inner;
            i++;
          }
        }
      } else if (char === '\\' && i + 1 < n) {
        word += text[i + 1];
        i += 2;
      } else {
        word += char;
        i++;
      }
    }
    words.push(word);
  }
  return words;
}

function unterminated(text: string, quote: string): PilotError {
  return new PilotError(
    'PILOT_FLAKE_INVALID',
    `podman option ${quoteExcerpt(text)}: unterminated ${quote} quote`,
    { hint: 'close the quote, or write the option without quotes' },
  );
}

/** Index just after the `]` that closes the JSON array starting at `start` (or the end of text). */
function jsonArrayEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === '\\') i++;
      else if (char === '"') inString = false;
    } else if (char === '"') {
      inString = true;
    } else if (char === '[') {
      depth++;
    } else if (char === ']') {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return text.length;
}

/** flake-pilot's placeholder: `%` and upper-case letters (podman-pilot's `%([A-Z]+)`). */
const PLACEHOLDER = /%([A-Z]+)/g;

/**
 * Replaces every `%NAME` in `word` with the caller's value of NAME, or, as flake-pilot
 * does for an unset variable, with `$NAME`. One pass: an inserted value is never expanded
 * again (flake-pilot loops, so that a value holding `%X` is expanded too, up to a limit).
 * `used` collects each name looked at with its value (undefined: unset), so that a plan
 * can be declared stale when one of them changes.
 */
export function expandPlaceholders(
  word: string,
  env: Readonly<Record<string, string | undefined>>,
  used?: Map<string, string | undefined>,
): string {
  return word.replace(PLACEHOLDER, (_match, name: string) => {
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    used?.set(name, value);
    return value ?? `$${name}`;
  });
}

/**
 * True when `word` starts with a `%NAME` placeholder: checked without the caller's
 * environment, it may stand for an absolute path (`%HOME/x`); `%home/x` never will.
 */
export function startsWithPlaceholder(word: string): boolean {
  return /^%[A-Z]/.test(word);
}

/** The `%NAME` placeholders written in `text`, each once, in order. */
export function placeholdersIn(text: string): string[] {
  return [...new Set(Array.from(text.matchAll(PLACEHOLDER), (match) => match[0]))];
}
