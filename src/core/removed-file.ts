/**
 * KIWI's `/removed` file: the paths a delta build deleted because the host provides them.
 * One path per line, relative or absolute; blank lines and `#`/`;` comments are skipped;
 * no globs (a `*` is a literal character); a directory line means the directory itself.
 *
 * The file is data from an image, so it is not trusted: a `..` component or a NUL byte
 * would let an image pick host files outside the paths it names, and is refused here,
 * before any path reaches the file system.
 */
import { PilotError } from './errors.js';
import { quoteExcerpt } from './excerpt.js';

/** Linux's PATH_MAX less its NUL, and NAME_MAX. */
const MAX_PATH = 4095;
const MAX_NAME = 255;

/** Normalized absolute paths (`/usr/bin/jq`), in file order, duplicates kept. */
export function parseRemovedFile(text: string, source: string): string[] {
  const paths: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const lineNumber = index + 1;
    const refuse = (why: string) =>
      new PilotError(
        'PILOT_REMOVED_UNSAFE',
        `${source}:${lineNumber}: unsafe path ${quoteExcerpt(line)} in the removed list: ${why}`,
        {
          hint: 'rebuild the delta image with a /removed file that names only paths inside the root',
        },
      );
    if (line.includes('\0')) throw refuse('it contains a NUL byte');
    const parts = line.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) throw refuse('it has a ".." component');
    // Providing "/" from the host would put the whole host under the app: never what a
    // delta build meant, and a way for an image to see every host file.
    if (parts.length === 0) throw refuse('it names the whole root directory');
    const path = `/${parts.join('/')}`;
    // No host file has a longer path or name: the line is broken, not a missing file.
    const bytes = Buffer.byteLength(path);
    if (bytes > MAX_PATH) throw refuse(`it has ${bytes} bytes; a path has at most ${MAX_PATH}`);
    const long = parts.find((part) => Buffer.byteLength(part) > MAX_NAME);
    if (long !== undefined) {
      throw refuse(
        `its name ${quoteExcerpt(long, 40)} has ${Buffer.byteLength(long)} bytes; a name has at most ${MAX_NAME}`,
      );
    }
    paths.push(path);
  });
  return paths;
}

/** Base, layers and delta lists in that order, each path once, first occurrence kept. */
export function mergeRemovedLists(lists: string[][]): string[] {
  const seen = new Set<string>();
  const merged: string[] = [];
  for (const list of lists) {
    for (const path of list) {
      if (seen.has(path)) continue;
      seen.add(path);
      merged.push(path);
    }
  }
  return merged;
}
