/** `pilot migrate` and a flake-pilot flake's relative includes: the text edit and its messages. */
import { describe, expect, it } from 'vitest';
import {
  absoluteIncludesText,
  missingInclude,
  rewriteWarning,
} from '../../src/commands/migrate-includes.js';
import { parseJournal } from '../../src/commands/migrate-journal.js';
import { PilotError } from '../../src/core/errors.js';
import { flakeFromSources } from '../../src/core/flake-file.js';

const FILE = '/flakes/x.yaml';
const CWD = '/root/site';

// flake-ctl 3.1.44 `register --include-tar conf.tar --include-path ../etc/app`, as it writes it.
const WRITTEN = `---
include:
  tar:
    - conf.tar
    - /srv/b.tar
  path:
    - ../etc/app
container:
  name: x
  target_app_path: /usr/bin/x
  host_app_path: /usr/bin/x
  base_container: ~
  check_host_dependencies: false
  layers: ~
  runtime:
    runas: root
    resume: false
    attach: false
    podman:
      - "-ti"
vm: ~
`;

describe('absoluteIncludesText', () => {
  it('replaces each relative entry in place and keeps every other byte', () => {
    const r = absoluteIncludesText(FILE, WRITTEN, CWD);
    expect(r.text).toBe(
      WRITTEN.replace('- conf.tar', '- /root/site/conf.tar').replace(
        '- ../etc/app',
        '- /root/etc/app',
      ),
    );
    expect(r.rewrites).toEqual([
      { key: 'tar', line: 4, from: 'conf.tar', to: '/root/site/conf.tar' },
      { key: 'path', line: 7, from: '../etc/app', to: '/root/etc/app' },
    ]);
    // pilot's reader, which refuses the original, reads the result.
    expect(() => flakeFromSources([{ file: FILE, text: WRITTEN }])).toThrow(/absolute path/);
    const { flake } = flakeFromSources([{ file: FILE, text: r.text }]);
    expect(flake.include).toEqual({
      tar: ['/root/site/conf.tar', '/srv/b.tar'],
      path: ['/root/etc/app'],
    });
  });

  it.each([
    [
      'flow list, plain',
      'include: {tar: [conf.tar, /a.tar]}\n',
      'include: {tar: [/root/site/conf.tar, /a.tar]}\n',
    ],
    [
      'double-quoted',
      'include:\n  tar: ["conf.tar"]\n',
      'include:\n  tar: ["/root/site/conf.tar"]\n',
    ],
    [
      'single-quoted',
      "include:\n  tar:\n    - 'it''s.tar'\n",
      "include:\n  tar:\n    - '/root/site/it''s.tar'\n",
    ],
    [
      'plain that must be quoted once absolute',
      'include:\n  tar: [a b.tar, c#d.tar]\n',
      'include:\n  tar: ["/root/site/a b.tar", "/root/site/c#d.tar"]\n',
    ],
    [
      'a comment beside the entry',
      'include:\n  path:\n    - etc # from the site\n',
      'include:\n  path:\n    - /root/site/etc # from the site\n',
    ],
    [
      'only the last of a repeated include section, which is the one read',
      'include:\n  tar: [old.tar]\ninclude:\n  tar: [new.tar]\n',
      'include:\n  tar: [old.tar]\ninclude:\n  tar: [/root/site/new.tar]\n',
    ],
  ])('%s', (_name, text, expected) => {
    expect(absoluteIncludesText(FILE, text, CWD).text).toBe(expected);
  });

  it('returns a flake without relative includes as it is, even with no cwd', () => {
    const text = 'include:\n  tar: [/a.tar]\n  path: ~\ncontainer:\n  name: x\n';
    expect(absoluteIncludesText(FILE, text, undefined)).toEqual({ text, rewrites: [] });
    expect(absoluteIncludesText(FILE, 'include: ~\n', CWD).rewrites).toEqual([]);
    expect(absoluteIncludesText(FILE, ': broken [', CWD).rewrites).toEqual([]);
  });

  it('refuses when the directory to resolve against is gone', () => {
    expect(() => absoluteIncludesText(FILE, 'include:\n  tar: [a.tar]\n', undefined)).toThrow(
      /^\/flakes\/x\.yaml: cannot make its relative includes absolute: the working directory/,
    );
  });
});

describe('messages', () => {
  const rewrite = { key: 'tar' as const, line: 4, from: 'conf.tar', to: '/root/site/conf.tar' };

  it('warns naming file:line, both paths and why', () => {
    expect(rewriteWarning(FILE, rewrite)).toBe(
      '/flakes/x.yaml:4: include.tar "conf.tar" is relative: written as "/root/site/conf.tar" (flake-pilot looked it up in each caller\'s working directory; pilot resolves it once, against the directory "pilot migrate" ran in)',
    );
    expect(rewriteWarning(FILE, rewrite, true)).toContain('is relative: would be written as');
  });

  it('says what to edit when the resolved path does not exist', () => {
    const error = missingInclude(FILE, rewrite);
    expect(error).toBeInstanceOf(PilotError);
    expect(error.message).toBe(
      '/flakes/x.yaml:4: include.tar "conf.tar" is relative, and "/root/site/conf.tar" (against the directory "pilot migrate" runs in) does not exist',
    );
    expect(error.hint).toBe(
      'write the absolute path of "conf.tar" on line 4 of /flakes/x.yaml, or run "pilot migrate" in the directory that holds it',
    );
  });
});

describe('the journal records the rewrites', () => {
  const entry = {
    app: 'x',
    flake: FILE,
    mode: 0o644,
    previousFlake: 'a',
    pinnedFlake: 'b',
    link: '/usr/bin/x',
    previousTarget: '/usr/bin/podman-pilot',
    target: '/usr/libexec/pilot/pilot-exec',
    images: {},
  };
  const journal = (extra: object) =>
    JSON.stringify({ version: 1, entries: [{ ...entry, ...extra }] });

  it('reads an entry with and without includes', () => {
    expect(parseJournal('j', journal({})).entries[0]?.includes).toBeUndefined();
    const includes = [{ key: 'path', from: 'etc', to: '/root/etc' }];
    expect(parseJournal('j', journal({ includes })).entries[0]?.includes).toEqual(includes);
  });

  it('refuses an includes list of another shape', () => {
    expect(() =>
      parseJournal('j', journal({ includes: [{ key: 'x', from: 'a', to: 'b' }] })),
    ).toThrow(/entry 1 has an "includes" list that is not \{key, from, to\} records/);
  });
});
