/**
 * The shell's own file name patterns (`*`, `?`, `[...]`, `\` quoting a character), for
 * arguments the shell did not expand because they were quoted (`pilot load
 * 'images/*.tar.xz'`). As sh does: a pattern matches within one path component, `*` and
 * `?` match a leading `.` only when the pattern spells it, and matches come sorted
 * (byte order, as under LC_ALL=C). Node 20 has no glob of its own (fs.glob is 22+).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** True when `text` holds an unquoted `*`, `?` or `[` (a pattern, not a plain name). */
export function hasGlobChars(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '*' || text[i] === '?' || text[i] === '[') return true;
  }
  return false;
}

function escapeRegExp(char: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(char) ? `\\${char}` : char;
}

/** The bracket expression starting at `pattern[start]` (`[`) as a RegExp class, or undefined when it never closes. */
function bracket(pattern: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === '!' || pattern[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  for (let first = true; i < pattern.length; first = false, i++) {
    const char = pattern[i]!;
    if (char === ']' && !first) {
      return { source: body === '' ? '(?!)' : `[${negate ? '^' : ''}${body}]`, end: i };
    }
    if (char === '\\' && i + 1 < pattern.length) {
      i++;
      body += escapeRegExp(pattern[i]!);
    } else if (char === '-' && !first && pattern[i + 1] !== ']') body += '-';
    else body += escapeRegExp(char);
  }
  return undefined;
}

/** One path component's pattern as an anchored RegExp. */
export function componentRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const found = bracket(pattern, i);
      if (found) {
        source += found.source;
        i = found.end;
      } else source += '\\[';
    } else source += escapeRegExp(char);
  }
  // A leading dot is matched only by a pattern that starts with one.
  const hidden = pattern.startsWith('.') || pattern.startsWith('\\.') ? '' : '(?!\\.)';
  return new RegExp(`^${hidden}${source}$`);
}

function unquote(text: string): string {
  return text.replace(/\\(.)/gs, '$1');
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function entriesOf(dir: string): string[] {
  try {
    return readdirSync(dir === '' ? '.' : dir);
  } catch {
    // What the shell does: a directory it cannot read matches nothing.
    return [];
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The existing paths `pattern` matches, sorted; relative patterns match relative to the
 * current directory and give relative paths, as the shell does.
 */
export function expandGlob(pattern: string): string[] {
  const absolute = pattern.startsWith('/');
  const parts = pattern.split('/').filter((part) => part !== '');
  let found = [absolute ? '/' : ''];
  parts.forEach((part, index) => {
    const last = index === parts.length - 1;
    const next: string[] = [];
    for (const base of found) {
      if (!hasGlobChars(part)) {
        next.push(base === '' ? unquote(part) : join(base, unquote(part)));
        continue;
      }
      const regExp = componentRegExp(part);
      for (const name of entriesOf(base).sort()) {
        if (!regExp.test(name)) continue;
        const path = base === '' ? name : join(base, name);
        if (last || isDirectory(path)) next.push(path);
      }
    }
    found = next;
  });
  return found.filter((path) => path !== '' && exists(path));
}
