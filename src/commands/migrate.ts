/**
 * `pilot migrate [--revert] [--dry-run]`: a flake-pilot host becomes a pilot host, and
 * back. For each app whose link points to podman-pilot: its images come from podman's
 * storage into pilot's store (migrate-images.ts), its digests are pinned in its main
 * flake file (migrate-plan.ts), its link is re-pointed to pilot's launcher. Each app's
 * record goes into the journal (migrate-journal.ts) before its flake or link changes;
 * `--revert` puts back what the journal says. Both hold the migrate lock and, per app,
 * the registration lock that register and remove take.
 */
import { existsSync, lstatSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { appNames, linkKind } from '../core/app-registry.js';
import { symlinkAtomic, writeFileAtomic } from '../core/atomic-fs.js';
import { errnoOf, isPilotError, PilotError, type PilotErrorCode } from '../core/errors.js';
import { claimLock, type Lock } from '../core/lock.js';
import type { PilotPaths } from '../core/paths.js';
import { dropAppPlans } from '../runtime/fast-plan.js';
import { flakePilotStorageConf, type ImportedImage, importImage } from './migrate-images.js';
import { missingInclude, rewriteWarning } from './migrate-includes.js';
import {
  type Journal,
  type JournalEntry,
  journalPath,
  readJournal,
  withEntry,
  withoutEntry,
  writeJournal,
} from './migrate-journal.js';
import { baseline, checkPinned, decideRevert, pinDigestsText } from './migrate-plan.js';
import { adminCwd, type Candidate, refsOf, survey } from './migrate-survey.js';

export type LineKind =
  | 'imported'
  | 'pinned'
  | 'linked'
  | 'relinked'
  | 'restored'
  | 'skipped'
  | 'failed'
  | 'refused'
  | 'note'
  | 'warning';

export interface MigrateLine {
  kind: LineKind;
  app: string | null;
  message: string;
  /** What to do about a failure, when the error says. */
  hint?: string;
  /** The failure's code (a PilotError's), for scripts. */
  code?: PilotErrorCode;
}

export interface MigrateReport {
  revert: boolean;
  dryRun: boolean;
  /** Apps migrated (or reverted), in order. */
  done: string[];
  /** Apps left as they were because something failed or changed (exit 1). */
  failed: string[];
  /** Apps not flake-pilot's (foreign or missing link, no link, unreadable flake): not touched. */
  skipped: string[];
  /** Apps pilot already runs (migrate only). */
  already: string[];
  journal: string;
  lines: MigrateLine[];
}

export interface MigrateOptions {
  dryRun: boolean;
  /** What an app link points at (the CLI's exec stub), as register links it. */
  launcher?: string;
  /** Each line as it happens (the CLI prints them as they come). */
  onLine?: (line: MigrateLine) => void;
  /**
   * The directory a relative include.tar/include.path of a flake-pilot flake is resolved
   * against (the admin's working directory; migrate-includes.ts says why).
   */
  cwd?: string;
}

function newReport(paths: PilotPaths, revert: boolean, options: MigrateOptions) {
  const report: MigrateReport = {
    revert,
    dryRun: options.dryRun,
    done: [],
    failed: [],
    skipped: [],
    already: [],
    journal: journalPath(paths),
    lines: [],
  };
  const say = (
    kind: LineKind,
    app: string | null,
    message: string,
    hint?: string,
    code?: PilotErrorCode,
  ) => {
    const line: MigrateLine = {
      kind,
      app,
      message,
      ...(hint ? { hint } : {}),
      ...(code ? { code } : {}),
    };
    report.lines.push(line);
    options.onLine?.(line);
  };
  return { report, say };
}

function migrateLock(paths: PilotPaths): Lock {
  return claimLock(join(paths.store, 'migrate.lock'), 'pilot migrate');
}

function appLock(paths: PilotPaths, app: string): Lock {
  return claimLock(join(paths.flakes, `.${app}.lock`), `registration of ${app}`);
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

export async function migrateHost(
  paths: PilotPaths,
  options: MigrateOptions,
): Promise<MigrateReport> {
  const { report, say } = newReport(paths, false, options);
  const lock = options.dryRun ? undefined : migrateLock(paths);
  try {
    const candidates: Candidate[] = [];
    for (const app of appNames(paths)) {
      const found = survey(paths, app, adminCwd(options.cwd));
      if ('skip' in found) {
        if (found.skip === 'already') report.already.push(app);
        else {
          report.skipped.push(app);
          say('skipped', app, `skipped ${app}: ${found.why}`);
        }
      } else candidates.push(found);
    }
    if (candidates.length === 0) return report;

    const storageConf = flakePilotStorageConf(paths);
    const images = new Map<string, ImportedImage | PilotError>();
    for (const ref of new Set(candidates.flatMap((c) => refsOf(c.flake)))) {
      try {
        const image = await importImage(paths, ref, { storageConf, dryRun: options.dryRun });
        images.set(ref, image);
        if (image.imported) {
          const verb = options.dryRun ? 'would import' : 'imported';
          say('imported', null, `${verb} ${ref} (${shortId(image.id)}) from ${image.source}`);
        }
      } catch (error) {
        if (!isPilotError(error)) throw error;
        images.set(ref, error);
      }
    }

    let journal: Journal = readJournal(paths) ?? { version: 1, entries: [] };
    for (const candidate of candidates) {
      const { app } = candidate;
      try {
        const entry = migrateApp(paths, candidate, images, journal, options, say);
        if (entry === undefined) continue; // no longer flake-pilot's: another command got there
        journal = withEntry(journal, entry);
        report.done.push(app);
      } catch (error) {
        if (!isPilotError(error)) throw error;
        report.failed.push(app);
        say(
          'failed',
          app,
          `failed ${app}: ${error.message}; it stays a flake-pilot app`,
          error.hint,
          error.code,
        );
      }
    }
    return report;
  } finally {
    lock?.release();
  }
}

/** Migrates one app under its registration lock; returns its journal entry. */
function migrateApp(
  paths: PilotPaths,
  surveyed: Candidate,
  images: Map<string, ImportedImage | PilotError>,
  journal: Journal,
  options: MigrateOptions,
  say: (kind: LineKind, app: string | null, message: string) => void,
): JournalEntry | undefined {
  const { app } = surveyed;
  const lock = options.dryRun ? undefined : appLock(paths, app);
  try {
    // Read again under the lock: a register or remove may have come in between.
    const candidate = survey(paths, app, adminCwd(options.cwd));
    if ('skip' in candidate) return undefined;
    const { sources, mainText, rewrites, flake, link } = candidate;
    const main = sources[0]!;
    if (main.target !== undefined) {
      throw new PilotError(
        'PILOT_FLAKE_INVALID',
        `${main.file} is a link to ${main.target}: migrate writes flake files in place, never through a link`,
        { hint: `copy ${main.target} over the link, then run "pilot migrate" again` },
      );
    }
    const digests: Record<string, string> = {};
    for (const ref of refsOf(flake)) {
      const image = images.get(ref);
      if (image === undefined || image instanceof PilotError) {
        throw image ?? new PilotError('PILOT_INTERNAL', `image ${ref} was not looked up`);
      }
      digests[ref] = image.id;
    }
    for (const rewrite of rewrites) {
      if (!existsSync(rewrite.to)) throw missingInclude(main.file, rewrite);
    }
    const pinnedFlake = pinDigestsText(main.file, mainText, digests);
    checkPinned([{ ...main, text: mainText }, ...sources.slice(1)], pinnedFlake, flake, digests);
    const previous = journal.entries.find((e) => e.app === app);
    const entry: JournalEntry = {
      app,
      flake: main.file,
      mode: statSync(main.file).mode & 0o7777,
      ...baseline(previous, main.text, readlinkSync(link)),
      pinnedFlake,
      link,
      target: options.launcher ?? '',
      images: digests,
      ...(rewrites.length > 0
        ? { includes: rewrites.map(({ key, from, to }) => ({ key, from, to })) }
        : {}),
    };
    const pins = Object.entries(digests)
      .map(([ref, id]) => `${ref}=${shortId(id)}`)
      .join(', ');
    for (const rewrite of rewrites) {
      say('warning', app, rewriteWarning(main.file, rewrite, options.dryRun));
    }
    if (options.dryRun) {
      say('pinned', app, `would pin ${app}: ${main.file} (container.digests: ${pins})`);
      say(
        'linked',
        app,
        `would link ${app}: ${link} -> ${entry.target} (now ${readlinkSync(link)})`,
      );
      return entry;
    }
    if (!options.launcher) throw new Error('migrate needs the launcher path');
    // The record first: a kill after this point is reverted from it.
    writeJournal(paths, withEntry(journal, entry));
    if (pinnedFlake !== main.text) {
      writeFileAtomic(main.file, pinnedFlake, entry.mode);
      say('pinned', app, `pinned ${app}: ${main.file} (container.digests: ${pins})`);
    }
    symlinkAtomic(options.launcher, link);
    say(
      'linked',
      app,
      `linked ${app}: ${link} -> ${options.launcher} (was ${entry.previousTarget})`,
    );
    dropAppPlans(paths, app);
    return entry;
  } finally {
    lock?.release();
  }
}

/** The main flake file's text now; undefined when it is gone or no longer a file. */
function flakeTextNow(file: string): string | undefined {
  try {
    if (!lstatSync(file).isFile()) return undefined;
    return readFileSync(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

function linkTargetNow(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}

export function revertMigration(paths: PilotPaths, options: MigrateOptions): MigrateReport {
  const { report, say } = newReport(paths, true, options);
  const lock = options.dryRun ? undefined : migrateLock(paths);
  try {
    let journal = readJournal(paths);
    if (journal === undefined) return report;
    const kept = new Map<string, string>();
    for (const entry of [...journal.entries].reverse()) {
      const appLockHeld = options.dryRun ? undefined : appLock(paths, entry.app);
      try {
        const decision = decideRevert(entry, {
          flake: flakeTextNow(entry.flake),
          link: linkKind(entry.link),
          linkTarget: linkTargetNow(entry.link),
        });
        if (decision.kind === 'refuse') {
          report.failed.push(entry.app);
          say('refused', entry.app, `refused ${entry.app}: ${decision.reason}; left as it is now`);
        } else {
          const [relink, restore] = options.dryRun
            ? ['would relink', 'would restore']
            : ['relinked', 'restored'];
          if (decision.link) {
            if (!options.dryRun) symlinkAtomic(entry.previousTarget, entry.link);
            say(
              'relinked',
              entry.app,
              `${relink} ${entry.app}: ${entry.link} -> ${entry.previousTarget}`,
            );
          }
          if (decision.flake) {
            if (!options.dryRun) writeFileAtomic(entry.flake, entry.previousFlake, entry.mode);
            const relative = (entry.includes ?? []).map((i) => i.from);
            const includes =
              relative.length > 0 ? `, relative include(s) ${relative.join(', ')} again` : '';
            say(
              'restored',
              entry.app,
              `${restore} ${entry.app}: ${entry.flake} (as before pilot migrate${includes})`,
            );
          }
          if (!options.dryRun) dropAppPlans(paths, entry.app);
          report.done.push(entry.app);
          for (const [ref, id] of Object.entries(entry.images)) kept.set(ref, id);
        }
        if (!options.dryRun) {
          journal = withoutEntry(journal, entry.app);
          writeJournal(paths, journal);
        }
      } finally {
        appLockHeld?.release();
      }
    }
    if (kept.size > 0) {
      say(
        'note',
        null,
        `the ${kept.size} image(s) migrate pinned stay in pilot's store (${[...kept.keys()].join(', ')}): "pilot rmi REF" then "pilot gc" removes one no app uses`,
      );
    }
    return report;
  } finally {
    lock?.release();
  }
}

/** The last line: what happened, and what to do next. */
export function migrateSummary(report: MigrateReport): string {
  const would = report.dryRun ? 'would be ' : '';
  if (report.revert) {
    if (report.done.length === 0 && report.failed.length === 0) {
      return `nothing to revert: no migrate journal at ${report.journal}`;
    }
    const refused =
      report.failed.length > 0 ? `, ${report.failed.length} refused (left as they are now)` : '';
    return `${report.done.length} app(s) ${would}put back to flake-pilot${refused}${report.dryRun ? '' : `; journal ${report.journal} removed`}`;
  }
  if (report.done.length === 0 && report.failed.length === 0) {
    return `nothing to migrate: ${report.already.length} app(s) already run by pilot${report.skipped.length > 0 ? `, ${report.skipped.length} skipped` : ''}`;
  }
  const parts = [
    `${report.done.length} app(s) ${report.dryRun ? 'would be migrated' : 'migrated'}`,
  ];
  if (report.failed.length > 0) parts.push(`${report.failed.length} failed (still flake-pilot's)`);
  if (report.skipped.length > 0) parts.push(`${report.skipped.length} skipped`);
  if (report.already.length > 0) parts.push(`${report.already.length} already pilot's`);
  const journal = report.dryRun
    ? ''
    : `; journal ${report.journal} ("pilot migrate --revert" puts them back)`;
  return `${parts.join(', ')}${journal}`;
}
