/**
 * `pilot load FILE|DIR|GLOB... [--oci FILE]... [--name REF]`: which sources the arguments
 * name, then each loaded in turn (store/load.ts does one).
 *
 * All arguments are resolved before anything loads, so a typo (a missing file, a pattern
 * that matches nothing) refuses the command and loads nothing. Once loading, a source that
 * fails for its own sake (corrupt, truncated, not an image) is reported and the next one
 * loads: someone loading a directory of archives wants all the good ones in, and a list of
 * the bad ones. A failure of the store itself (no space, no permission, gc running) stops
 * there, as every later source would fail the same way. Either way, what loaded stays
 * loaded and the command exits 1.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { errnoOf, isPilotError, PilotError } from '../core/errors.js';
import { escapeExcerpt } from '../core/excerpt.js';
import { expandGlob, hasGlobChars } from '../core/glob.js';
import type { PilotPaths } from '../core/paths.js';
import { explainSystemError } from '../core/system-error.js';
import type { LoadOptions, LoadResult } from '../store/load.js';

export interface LoadSource {
  /** The path to load, as the user wrote it or as a pattern expanded to it. */
  path: string;
  /** What it came from, when not literally given: `images/*.tar.xz`, `--oci /srv/base`. */
  from?: string | undefined;
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (error) {
    return errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR';
  }
}

/** A file name's suffixes (`.docker.tar.xz`), which say nothing about its version. */
const SUFFIXES = /(?:\.[A-Za-z~][A-Za-z0-9~]*)*$/;

/**
 * `a-1.10.tar` after `a-1.9.tar` after `a-1.tar`: as `sort -V` orders file names, digit
 * runs compare as numbers and the suffixes count only when all else is equal.
 */
export function compareVersions(a: string, b: string): number {
  const runs = (text: string) => text.replace(SUFFIXES, '').match(/\d+|\D+/g) ?? [];
  const left = runs(a);
  const right = runs(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i]!;
    const y = right[i]!;
    if (x === y) continue;
    if (/^\d/.test(x) && /^\d/.test(y)) {
      const difference = BigInt(x) - BigInt(y);
      if (difference !== 0n) return difference < 0n ? -1 : 1;
    }
    return x < y ? -1 : 1;
  }
  return left.length - right.length || (a < b ? -1 : a > b ? 1 : 0);
}

function noMatch(argument: string, why: string, hint: string): PilotError {
  return new PilotError('PILOT_IMAGE_INVALID', `cannot load ${escapeExcerpt(argument)}: ${why}`, {
    hint,
  });
}

/**
 * flake-ctl's `--oci NAME`: NAME itself (a pattern expands as a positional one does), or
 * when it does not exist, the file of the highest version among `NAME*` (flake-ctl takes
 * the last in plain sort order, which puts 1.9 after 1.10; pilot compares digit runs as
 * numbers).
 */
function ociSources(argument: string): LoadSource[] {
  if (exists(argument) || hasGlobChars(argument)) return expandArgument(argument);
  const quoted = argument.replace(/[\\*?[]/g, '\\$&');
  const highest = expandGlob(`${quoted}*`).sort(compareVersions).at(-1);
  if (highest === undefined) {
    throw noMatch(
      argument,
      'no such file or directory, and no file name starts with it',
      'name an archive or an OCI layout directory; as in flake-ctl, --oci NAME also takes the highest version of NAME* (NAME-1.2.tar.xz)',
    );
  }
  return [{ path: highest, from: `--oci ${argument}` }];
}

function expandArgument(argument: string): LoadSource[] {
  // A name that exists is itself, even with `*` or `[` in it (the shell expanded it already).
  if (exists(argument) || !hasGlobChars(argument)) return [{ path: argument }];
  const matches = expandGlob(argument);
  if (matches.length === 0) {
    throw noMatch(
      argument,
      'the pattern matches no file or directory',
      'check the pattern; pilot expands *, ? and [...] itself when the shell did not',
    );
  }
  return matches.map((path) => ({ path, from: argument }));
}

/**
 * The sources `pilot load` loads, in order: the positional arguments, then each `--oci`.
 * A file named twice (by a pattern and by name) loads once.
 */
export function resolveLoadSources(positional: string[], oci: string[] = []): LoadSource[] {
  if (positional.length === 0 && oci.length === 0) {
    throw new PilotError(
      'PILOT_USAGE',
      'name what to load: an archive, an OCI layout or docker save directory, or a pattern',
      { hint: 'e.g. pilot load image.tar.xz, or pilot load "images/*.tar.xz"' },
    );
  }
  const sources = [...positional.flatMap(expandArgument), ...oci.flatMap(ociSources)];
  for (const source of sources) {
    if (!exists(source.path)) {
      throw noMatch(
        source.path,
        'no such file or directory',
        'check the path; "podman save --format oci-archive -o FILE IMAGE" makes an archive',
      );
    }
  }
  const seen = new Set<string>();
  return sources.filter((source) => {
    let key = source.path;
    try {
      key = realpathSync(source.path);
    } catch {
      // A dangling symlink: openArchive names it.
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** `--name` names one image: several sources make it ambiguous, before anything loads. */
export function checkNameForSources(name: string | undefined, sources: LoadSource[]): void {
  if (name === undefined || sources.length <= 1) return;
  const shown = sources
    .slice(0, 3)
    .map((source) => escapeExcerpt(source.path, 60))
    .join(', ');
  throw new PilotError(
    'PILOT_USAGE',
    `--name names one image, but ${sources.length} sources were given (${shown}${sources.length > 3 ? ', …' : ''})`,
    { hint: 'load them one at a time with --name each, or all at once without --name' },
  );
}

/** A failure that says something about this source only: the next source may well load. */
function concernsSource(error: unknown): boolean {
  return (
    isPilotError(error) &&
    ['PILOT_IMAGE_INVALID', 'PILOT_DIGEST_MISMATCH', 'PILOT_LAYER_UNSAFE', 'PILOT_USAGE'].includes(
      error.code,
    )
  );
}

export interface SourceOutcome {
  source: LoadSource;
  results?: LoadResult[];
  error?: unknown;
}

export interface LoadEachOptions extends Omit<LoadOptions, 'onProgress'> {
  /** Called as each source starts; what it returns gets that source's progress. */
  onStart?: (source: LoadSource) => LoadOptions['onProgress'];
  /** Called as each source ends, loaded or failed. */
  onOutcome?: (outcome: SourceOutcome) => void;
}

export interface LoadEachResult {
  outcomes: SourceOutcome[];
  /** Sources not tried because the store failed (see the file's comment). */
  skipped: LoadSource[];
}

/** Loads each source in turn; see the file's comment for what a failure does. */
export async function loadEach(
  paths: PilotPaths,
  sources: LoadSource[],
  options: LoadEachOptions = {},
): Promise<LoadEachResult> {
  checkNameForSources(options.name, sources);
  const { loadArchive } = await import('../store/load.js');
  const { onStart, onOutcome, ...loadOptions } = options;
  const outcomes: SourceOutcome[] = [];
  for (const [index, source] of sources.entries()) {
    let outcome: SourceOutcome;
    try {
      const onProgress = onStart?.(source);
      outcome = {
        source,
        results: await loadArchive(paths, source.path, { ...loadOptions, onProgress }),
      };
    } catch (error) {
      const explained = explainSystemError(error);
      if (!isPilotError(explained)) throw error;
      outcome = { source, error: explained };
    }
    outcomes.push(outcome);
    onOutcome?.(outcome);
    if (outcome.error !== undefined && !concernsSource(outcome.error)) {
      return { outcomes, skipped: sources.slice(index + 1) };
    }
  }
  return { outcomes, skipped: [] };
}

/** The error `pilot load` ends with when any source failed (each was reported as it failed). */
export function loadFailure(result: LoadEachResult): PilotError | undefined {
  const failed = result.outcomes.filter((outcome) => outcome.error !== undefined);
  if (failed.length === 0) return undefined;
  const total = result.outcomes.length + result.skipped.length;
  if (total === 1) return failed[0]!.error as PilotError;
  const loaded = result.outcomes.length - failed.length;
  const names = (list: LoadSource[]) =>
    list.map((source) => escapeExcerpt(source.path, 60)).join(', ');
  const skipped = result.skipped.length > 0 ? `; not tried: ${names(result.skipped)}` : '';
  return new PilotError(
    'PILOT_LOAD_FAILED',
    `${failed.length} of ${total} sources failed to load: ${names(failed.map((outcome) => outcome.source))}${skipped}; ${loaded} loaded`,
    {
      hint:
        result.skipped.length > 0
          ? 'fix the store problem above, then load the failed and untried sources again'
          : 'the errors above say what is wrong with each; the others are in the store',
    },
  );
}

/** What `load --json`, `pull --json` and `podman pull --json` print for each image. */
export function loadSummary(r: LoadResult) {
  return { id: r.image.id, names: r.names, newLayers: r.newLayers, reusedLayers: r.reusedLayers };
}

/** `load --json`: every image loaded, with the source it came from (failed sources have none). */
export function loadedSummaries(result: LoadEachResult) {
  return result.outcomes.flatMap(({ source, results }) =>
    (results ?? []).map((r) => ({ ...loadSummary(r), source: source.path })),
  );
}
