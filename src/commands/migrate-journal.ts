/**
 * The journal of `pilot migrate`: `<store>/migrate.json`, what each migrated app was
 * before (its main flake file's text and mode, its link's target) and what migrate made
 * of it. An app's entry is written before its flake or link changes, so a migrate killed
 * at any point can be reverted; `--revert` drops each entry once it is put back and the
 * file when none is left.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../core/atomic-fs.js';
import { PilotError } from '../core/errors.js';
import { faultPoint } from '../core/fault.js';
import { readTextIfPresent } from '../core/fs-query.js';
import type { PilotPaths } from '../core/paths.js';

export interface JournalEntry {
  app: string;
  /** The main flake file, as a host path (under the root). */
  flake: string;
  /** Its permission bits, kept when it is written back. */
  mode: number;
  /** Its text before migrate (what flake-ctl or the user wrote). */
  previousFlake: string;
  /** Its text with the digests pinned: what migrate writes. */
  pinnedFlake: string;
  /** The app link, as a host path (under the root). */
  link: string;
  /** Where it pointed before (podman-pilot). */
  previousTarget: string;
  /** Where migrate points it (pilot's launcher). */
  target: string;
  /** Image ref → id that migrate pinned. */
  images: Record<string, string>;
  /** Relative include entries migrate made absolute in the flake (absent: none). */
  includes?: { key: 'tar' | 'path'; from: string; to: string }[];
}

export interface Journal {
  version: 1;
  entries: JournalEntry[];
}

export function journalPath(paths: PilotPaths): string {
  return join(paths.store, 'migrate.json');
}

function damaged(file: string, why: string): PilotError {
  return new PilotError('PILOT_MIGRATE_JOURNAL', `${file}: the migrate journal ${why}`, {
    hint: `it records what "pilot migrate" changed; restore it from a backup, or move it aside once every app is as you want it (then "pilot migrate" starts a new one)`,
  });
}

const STRING_FIELDS = [
  'app',
  'flake',
  'previousFlake',
  'pinnedFlake',
  'link',
  'previousTarget',
  'target',
] as const;

function validIncludes(value: unknown): boolean {
  return (
    Array.isArray(value) &&
    value.every(
      (i) =>
        i !== null &&
        typeof i === 'object' &&
        (i.key === 'tar' || i.key === 'path') &&
        typeof i.from === 'string' &&
        typeof i.to === 'string',
    )
  );
}

/** Checks the shape of a parsed journal, so that --revert never acts on half a record. */
export function parseJournal(file: string, text: string): Journal {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw damaged(file, `is not JSON (${(error as Error).message})`);
  }
  const journal = value as Partial<Journal> | null;
  if (journal === null || typeof journal !== 'object' || journal.version !== 1) {
    throw damaged(file, 'has no "version": 1 (written by another pilot version, or damaged)');
  }
  if (!Array.isArray(journal.entries)) throw damaged(file, 'has no "entries" list');
  journal.entries.forEach((entry: Partial<JournalEntry> | null, index) => {
    const where = `entry ${index + 1}`;
    if (entry === null || typeof entry !== 'object') throw damaged(file, `${where} is no object`);
    for (const field of STRING_FIELDS) {
      if (typeof entry[field] !== 'string') throw damaged(file, `${where} has no "${field}" text`);
    }
    if (!Number.isInteger(entry.mode)) throw damaged(file, `${where} has no "mode" number`);
    if (entry.images === null || typeof entry.images !== 'object') {
      throw damaged(file, `${where} has no "images" object`);
    }
    if (entry.includes !== undefined && !validIncludes(entry.includes)) {
      throw damaged(file, `${where} has an "includes" list that is not {key, from, to} records`);
    }
  });
  return journal as Journal;
}

/** The journal, or undefined when there is none (nothing migrated, or all reverted). */
export function readJournal(paths: PilotPaths): Journal | undefined {
  const file = journalPath(paths);
  const text = readTextIfPresent(file);
  return text === undefined ? undefined : parseJournal(file, text);
}

/** Writes the journal atomically; an empty one is removed. */
export function writeJournal(paths: PilotPaths, journal: Journal): void {
  const file = journalPath(paths);
  if (journal.entries.length > 0) {
    writeJsonAtomic(file, journal);
    return;
  }
  faultPoint(`unlink ${file}`);
  rmSync(file, { force: true });
}

/** The journal with `entry` as the record of its app (a later migrate of it replaces the earlier). */
export function withEntry(journal: Journal, entry: JournalEntry): Journal {
  return {
    version: 1,
    entries: [...journal.entries.filter((e) => e.app !== entry.app), entry],
  };
}

export function withoutEntry(journal: Journal, app: string): Journal {
  return { version: 1, entries: journal.entries.filter((e) => e.app !== app) };
}
