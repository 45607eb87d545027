/** The migrate journal: its shape is checked before --revert acts on it; empty means gone. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type Journal,
  type JournalEntry,
  journalPath,
  parseJournal,
  readJournal,
  withEntry,
  withoutEntry,
  writeJournal,
} from '../../src/commands/migrate-journal.js';
import { linkKind } from '../../src/core/app-registry.js';
import { resolvePaths } from '../../src/core/paths.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-migrate-journal-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function entry(app: string, previousFlake = 'before'): JournalEntry {
  return {
    app,
    flake: `/usr/share/flakes/${app}.yaml`,
    mode: 0o644,
    previousFlake,
    pinnedFlake: 'pinned',
    link: `/usr/bin/${app}`,
    previousTarget: '/usr/bin/podman-pilot',
    target: '/usr/lib/pilot/pilot-exec',
    images: {},
  };
}

describe('migrate journal', () => {
  it('round-trips through the store and is removed when empty', () => {
    const paths = resolvePaths({ root: join(work, 'root') });
    expect(readJournal(paths)).toBeUndefined();
    const journal: Journal = withEntry({ version: 1, entries: [] }, entry('a'));
    writeJournal(paths, journal);
    expect(readJournal(paths)).toEqual(journal);
    writeJournal(paths, withoutEntry(journal, 'a'));
    expect(existsSync(journalPath(paths))).toBe(false);
  });

  it("keeps one entry per app: a later record replaces the app's earlier one", () => {
    let journal: Journal = { version: 1, entries: [] };
    journal = withEntry(journal, entry('a'));
    journal = withEntry(journal, entry('b'));
    journal = withEntry(journal, entry('a', 'again'));
    expect(journal.entries.map((e) => [e.app, e.previousFlake])).toEqual([
      ['b', 'before'],
      ['a', 'again'],
    ]);
  });

  const damaged: [string, string, RegExp][] = [
    ['not JSON', '{', /is not JSON/],
    ['another version', '{"version": 2, "entries": []}', /has no "version": 1/],
    ['no entries', '{"version": 1}', /has no "entries" list/],
    ['a null entry', '{"version": 1, "entries": [null]}', /entry 1 is no object/],
    [
      'an entry without its previous flake',
      JSON.stringify({ version: 1, entries: [{ ...entry('a'), previousFlake: undefined }] }),
      /entry 1 has no "previousFlake" text/,
    ],
    [
      'an entry without a mode',
      JSON.stringify({ version: 1, entries: [{ ...entry('a'), mode: '644' }] }),
      /entry 1 has no "mode" number/,
    ],
  ];
  it.each(damaged)('refuses a journal with %s, naming the file', (_name, text, message) => {
    expect(() => parseJournal('/store/migrate.json', text)).toThrow(message);
    expect(() => parseJournal('/store/migrate.json', text)).toThrow(/^\/store\/migrate.json: /);
  });
});

describe('linkKind', () => {
  const dir = join(work, 'links');
  mkdirSync(dir, { recursive: true });
  const make = (name: string, target: string) => {
    symlinkSync(target, join(dir, name));
    return join(dir, name);
  };
  const file = join(dir, 'file');
  writeFileSync(file, '');

  it.each([
    ['the exec stub', make('stub', '/usr/lib/pilot/pilot-exec'), 'pilot'],
    ['the Node launcher', make('node', '/opt/pilot/dist/pilot-launch.mjs'), 'pilot'],
    ["flake-ctl's absolute link", make('fp', '/usr/bin/podman-pilot'), 'flake-pilot'],
    ['a relative podman-pilot link', make('rel', 'podman-pilot'), 'flake-pilot'],
    [
      'podman-pilot under a test root',
      make('root', '/tmp/root/usr/bin/podman-pilot'),
      'flake-pilot',
    ],
    ['a link to anything else', make('other', '/usr/bin/podman'), 'foreign'],
    [
      'firecracker-pilot (not pilot’s to take)',
      make('fc', '/usr/bin/firecracker-pilot'),
      'foreign',
    ],
    ['a regular file', file, 'foreign'],
    ['nothing', join(dir, 'none'), 'missing'],
    ['a path through a file', join(file, 'x'), 'missing'],
  ])('%s', (_name, path, kind) => {
    expect(linkKind(path)).toBe(kind);
  });
});
