/**
 * The part of a flake's `runtime.podman` list that pilot's sandbox can honour.
 *
 * flake-pilot passes these strings to `podman run`, splitting every item into words, so
 * the list is one argument vector: "--storage-opt size=10G" is one item with two words,
 * and an option and its value may even sit in two items. pilot reads the same vector and
 * maps what its sandbox has an equivalent for:
 *   -e/--env NAME=VALUE, -e/--env NAME (take NAME from the caller; `NAME*` = every caller
 *   variable with that prefix, as podman does), -v/--volume /host:/container[:ro],
 *   -w/--workdir /dir, --entrypoint CMD or a JSON array.
 * Everything else is returned in `ignored` (one entry per option with its value) so that
 * the caller can warn. Pure: no environment, no file system.
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';

export interface PodmanVolume {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface PodmanOptions {
  /** Variables with a value from the flake. */
  env: Record<string, string>;
  /** Variables to take from the caller's environment (`-e NAME`); may end in `*`. */
  passEnv: string[];
  volumes: PodmanVolume[];
  workdir?: string;
  /** Replaces the image's Entrypoint; `[]` (from `--entrypoint ""`) clears it. */
  entrypoint?: string[];
  /** Options pilot does not map, each with its value, as written. */
  ignored: string[];
}

/** podman run flags without a value: they must not swallow the next word. */
const LONG_FLAGS = new Set([
  '--rm',
  '--privileged',
  '--init',
  '--read-only',
  '--read-only-tmpfs',
  '--tty',
  '--interactive',
  '--detach',
  '--replace',
  '--rmi',
  '--no-hosts',
  '--no-healthcheck',
  '--quiet',
  '--sig-proxy',
  '--http-proxy',
  '--env-host',
  '--oom-kill-disable',
  '--publish-all',
  '--passwd',
  '--tls-verify',
]);
const SHORT_FLAGS = new Set(['t', 'i', 'd', 'q', 'P']);
/** Volume options that change nothing for a bind mount in pilot's sandbox (SELinux labels, bind kind). */
const HARMLESS_VOLUME_OPTIONS = new Set(['rw', 'ro', 'z', 'Z', 'bind', 'rbind']);

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

/** podman: a JSON array of strings is the command with its arguments; anything else is one word. */
function parseEntrypoint(value: string): string[] {
  if (value === '') return [];
  if (value.startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed) && parsed.every((word) => typeof word === 'string')) {
        return parsed as string[];
      }
    } catch {
      // Not JSON: podman takes the string as the program itself, and so do we.
    }
  }
  return [value];
}

function parseVolume(spec: string): PodmanVolume | undefined {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) return undefined;
  const [source, target, optionText] = parts as [string, string, string | undefined];
  // A source that is not absolute is a named volume: pilot has no volumes, only host paths.
  if (!source.startsWith('/') || !target.startsWith('/')) return undefined;
  const options = optionText === undefined || optionText === '' ? [] : optionText.split(',');
  if (!options.every((option) => HARMLESS_VOLUME_OPTIONS.has(option))) return undefined;
  const access = options.filter((option) => option === 'ro' || option === 'rw');
  return { source, target, readOnly: access[access.length - 1] === 'ro' };
}

type Mapped = 'env' | 'volume' | 'workdir' | 'entrypoint';

const LONG_MAPPED: Record<string, Mapped> = {
  '--env': 'env',
  '--volume': 'volume',
  '--workdir': 'workdir',
  '--entrypoint': 'entrypoint',
};
const SHORT_MAPPED: Record<string, Mapped> = { e: 'env', v: 'volume', w: 'workdir' };

export function parsePodmanOptions(options: string[]): PodmanOptions {
  const words = options.flatMap(splitPodmanWords);
  // name → value, or null for "from the caller"; a later -e for the same name wins.
  const env = new Map<string, string | null>();
  const volumes: PodmanVolume[] = [];
  const ignored: string[] = [];
  let workdir: string | undefined;
  let entrypoint: string[] | undefined;

  const takesNext = (index: number): boolean => {
    const next = words[index + 1];
    return next !== undefined && !next.startsWith('-');
  };

  for (let index = 0; index < words.length; index++) {
    const word = words[index]!;
    let kind: Mapped | undefined;
    let value: string | undefined;
    let written: string;

    if (word.startsWith('--') && word.length > 2) {
      const equals = word.indexOf('=');
      const name = equals < 0 ? word : word.slice(0, equals);
      kind = Object.hasOwn(LONG_MAPPED, name) ? LONG_MAPPED[name] : undefined;
      if (equals >= 0) value = word.slice(equals + 1);
      else if (
        kind !== undefined ? index + 1 < words.length : !LONG_FLAGS.has(name) && takesNext(index)
      ) {
        index++;
        value = words[index];
      }
      written = equals < 0 && value !== undefined ? `${word} ${value}` : word;
    } else if (word.startsWith('-') && word.length > 1) {
      const letter = word[1]!;
      kind = Object.hasOwn(SHORT_MAPPED, letter) ? SHORT_MAPPED[letter] : undefined;
      const attached = word.slice(2);
      if (attached !== '' && kind !== undefined) {
        // pflag accepts both -eA=B and -e=A=B.
        value = attached.startsWith('=') ? attached.slice(1) : attached;
      } else if (attached !== '' || SHORT_FLAGS.has(letter)) {
        value = undefined; // a flag cluster such as -ti, or an unknown option with its value attached
      } else if (kind !== undefined ? index + 1 < words.length : takesNext(index)) {
        index++;
        value = words[index];
      }
      written = attached === '' && value !== undefined ? `${word} ${value}` : word;
    } else {
      ignored.push(word);
      continue;
    }

    if (kind === undefined || value === undefined) {
      ignored.push(written);
      continue;
    }
    switch (kind) {
      case 'env': {
        const equals = value.indexOf('=');
        const name = equals < 0 ? value : value.slice(0, equals);
        if (name === '') {
          ignored.push(written);
          break;
        }
        env.delete(name); // a later option wins, and takes the later position
        env.set(name, equals < 0 ? null : value.slice(equals + 1));
        break;
      }
      case 'volume': {
        const volume = parseVolume(value);
        if (volume) volumes.push(volume);
        else ignored.push(written);
        break;
      }
      case 'workdir':
        if (value.startsWith('/')) workdir = value;
        else ignored.push(written);
        break;
      case 'entrypoint':
        entrypoint = parseEntrypoint(value);
        break;
    }
  }

  const result: PodmanOptions = {
    env: Object.fromEntries(
      [...env].filter((entry): entry is [string, string] => entry[1] !== null),
    ),
    passEnv: [...env].filter(([, value]) => value === null).map(([name]) => name),
    volumes,
    ignored,
  };
  if (workdir !== undefined) result.workdir = workdir;
  if (entrypoint !== undefined) result.entrypoint = entrypoint;
  return result;
}
