/**
 * `pilot migrate`, relative includes: flake-ctl writes `--include-tar conf.tar` into the
 * flake as it was typed, and podman-pilot looks it up in each caller's working directory
 * at every launch, so whoever controls that directory chooses what root's app contains.
 * pilot's reader refuses such an entry (flake-validate.ts). Migrate resolves it once, against
 * the directory the admin runs `pilot migrate` in (the one directory the admin chose, as
 * `register` resolves its own `--include-tar`), and writes the absolute path into the
 * main flake file as a text edit of that one scalar: every other byte stays, and a check
 * proves that nothing but the named entries changed. Pure: migrate.ts checks that each
 * resolved path exists and writes the result through the journal.
 */
import { posix } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar } from 'yaml';
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';

/** One relative include entry of the main flake file, and what migrate writes instead. */
export interface IncludeRewrite {
  key: 'tar' | 'path';
  /** 1-based line of the entry in the main flake file. */
  line: number;
  from: string;
  to: string;
}

function cannotRewrite(file: string, why: string): PilotError {
  return new PilotError(
    'PILOT_FLAKE_INVALID',
    `${file}: cannot make its relative includes absolute: ${why}`,
    { hint: 'write the absolute path of each include.tar/include.path entry into the flake' },
  );
}

/** A YAML scalar for `value` in the style of the one it replaces, quoted where plain would not read back. */
function scalarText(value: string, type: Scalar['type']): string {
  if (type === Scalar.QUOTE_SINGLE) return `'${value.replaceAll("'", "''")}'`;
  // Plain only when it cannot read as anything but this string, in block or flow context.
  if (type === Scalar.PLAIN && /^\/[A-Za-z0-9_./+@=~-]*$/.test(value)) return value;
  return JSON.stringify(value);
}

/** The document as plain data, with the last of repeated keys (as the flake reader takes it). */
function plain(text: string): unknown {
  return parseDocument(text, { uniqueKeys: false }).toJS({ maxAliasCount: -1 });
}

/**
 * The main flake file's text with each relative `include.tar`/`include.path` entry
 * replaced by its absolute path against `cwd`, and the list of those edits (none: the
 * text is returned as it is). Entries of an `include` section the reader ignores (an
 * earlier one of a repeated key) are left alone, as they mean nothing.
 */
export function absoluteIncludesText(
  file: string,
  text: string,
  cwd: string | undefined,
): { text: string; rewrites: IncludeRewrite[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: false, lineCounter: lines });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return { text, rewrites: [] };
  const include = doc.contents.items
    .filter((p) => isScalar(p.key) && p.key.value === 'include')
    .at(-1)?.value;
  if (!isMap(include)) return { text, rewrites: [] };
  const edits: { start: number; end: number; text: string; rewrite: IncludeRewrite }[] = [];
  for (const key of ['tar', 'path'] as const) {
    const list = include.items.filter((p) => isScalar(p.key) && p.key.value === key).at(-1);
    if (!list || !isSeq(list.value)) continue;
    for (const item of list.value.items) {
      if (!isScalar(item) || typeof item.value !== 'string' || item.value.startsWith('/')) continue;
      if (item.value === '' || !item.range) continue; // the reader's own error says what is wrong
      if (cwd === undefined) {
        throw cannotRewrite(file, 'the working directory of "pilot migrate" was removed');
      }
      const to = posix.resolve(cwd, item.value);
      const [start, end] = item.range;
      edits.push({
        start,
        end,
        text: scalarText(to, item.type),
        rewrite: { key, line: lines.linePos(start).line, from: item.value, to },
      });
    }
  }
  if (edits.length === 0) return { text, rewrites: [] };
  let out = text;
  for (const edit of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  const rewrites = edits.map((e) => e.rewrite);
  checkRewritten(file, text, out, rewrites);
  return { text: out, rewrites };
}

/** The rewritten text must mean the original with exactly these entries replaced. */
function checkRewritten(file: string, before: string, after: string, rewrites: IncludeRewrite[]) {
  const expected = plain(before) as { include: Record<string, unknown[]> };
  for (const key of ['tar', 'path'] as const) {
    const list = expected.include[key];
    if (!Array.isArray(list)) continue;
    expected.include[key] = list.map(
      (entry) => rewrites.find((r) => r.key === key && r.from === entry)?.to ?? entry,
    );
  }
  if (!isDeepStrictEqual(plain(after), expected)) {
    throw cannotRewrite(file, 'the text edit would change another setting of the flake');
  }
}

/** The warning migrate prints (and --json reports) for one rewritten entry. */
export function rewriteWarning(file: string, rewrite: IncludeRewrite, dryRun = false): string {
  return `${file}:${rewrite.line}: include.${rewrite.key} ${quoteExcerpt(rewrite.from)} is relative: ${dryRun ? 'would be written' : 'written'} as ${quoteExcerpt(rewrite.to)} (flake-pilot looked it up in each caller's working directory; pilot resolves it once, against the directory "pilot migrate" ran in)`;
}

/** The error when a resolved entry is not there: the app stays flake-pilot's. */
export function missingInclude(file: string, rewrite: IncludeRewrite): PilotError {
  return new PilotError(
    'PILOT_FLAKE_INVALID',
    `${file}:${rewrite.line}: include.${rewrite.key} ${quoteExcerpt(rewrite.from)} is relative, and ${quoteExcerpt(rewrite.to)} (against the directory "pilot migrate" runs in) does not exist`,
    {
      hint: `write the absolute path of ${quoteExcerpt(rewrite.from)} on line ${rewrite.line} of ${file}, or run "pilot migrate" in the directory that holds it`,
    },
  );
}
