/** The pure part of `pilot migrate`: pinning digests into flake text, and what --revert may do. */
import { describe, expect, it } from 'vitest';
import type { JournalEntry } from '../../src/commands/migrate-journal.js';
import {
  baseline,
  checkPinned,
  decideRevert,
  pinDigestsText,
} from '../../src/commands/migrate-plan.js';
import { PilotError } from '../../src/core/errors.js';
import { flakeFromSources } from '../../src/core/flake-file.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const FILE = '/flakes/x.yaml';

// What flake-ctl 3.1.44 writes from its template (comments, its key order).
const UPSTREAM = `# Flake configuration for x
container:
  # the delta image
  name: localhost/x-delta
  target_app_path: /usr/bin/x
  host_app_path: /usr/bin/x
  base_container: "localhost/base:1"
  layers:
    - localhost/extra
  runtime:
    runas: root
    resume: false
    attach: false
    podman:
      - --rm
include:
  tar: []
`;

const pins = { 'localhost/x-delta': A, 'localhost/base:1': B };

function parse(text: string) {
  return flakeFromSources([{ file: FILE, text }]).flake;
}

describe('pinDigestsText', () => {
  it('inserts container.digests after the container line and keeps every other byte', () => {
    const pinned = pinDigestsText(FILE, UPSTREAM, pins);
    const block = `  digests:\n    localhost/x-delta: ${A}\n    localhost/base:1: ${B}\n`;
    expect(pinned).toBe(UPSTREAM.replace('container:\n', `container:\n${block}`));
    expect(parse(pinned).container.digests).toEqual(pins);
  });

  it("indents the key as the file's other container keys", () => {
    const text = 'container:\n    name: x\n    target_app_path: /x\n';
    const pinned = pinDigestsText(FILE, text, { x: A });
    expect(pinned).toBe(
      `container:\n    digests:\n      x: ${A}\n    name: x\n    target_app_path: /x\n`,
    );
  });

  it('quotes a ref that YAML would read otherwise', () => {
    const text = 'container:\n  name: "x #1"\n';
    const pinned = pinDigestsText(FILE, text, { 'x #1': A });
    expect(parse(pinned).container.digests).toEqual({ 'x #1': A });
  });

  it('returns the text unchanged when the same pins are there (a second run writes nothing)', () => {
    const once = pinDigestsText(FILE, UPSTREAM, pins);
    expect(pinDigestsText(FILE, once, pins)).toBe(once);
  });

  it('updates pins that differ through the YAML document', () => {
    const once = pinDigestsText(FILE, UPSTREAM, pins);
    const twice = pinDigestsText(FILE, once, { ...pins, 'localhost/x-delta': B });
    expect(parse(twice).container.digests).toEqual({ ...pins, 'localhost/x-delta': B });
    expect(twice).toContain('# the delta image');
  });

  it('adds the key to a flow mapping', () => {
    const text = 'container: {name: x, target_app_path: /x}\n';
    expect(parse(pinDigestsText(FILE, text, { x: A })).container.digests).toEqual({ x: A });
  });

  it('pins into the last of repeated container keys, the one the reader uses', () => {
    const text = 'container:\n  name: old\ncontainer:\n  name: x\n';
    const pinned = pinDigestsText(FILE, text, { x: A });
    expect(pinned).toBe(
      `container:\n  name: old\ncontainer:\n  digests:\n    x: ${A}\n  name: x\n`,
    );
  });

  it('refuses a file without a container mapping, naming it', () => {
    expect(() => pinDigestsText(FILE, 'include:\n  tar: []\n', { x: A })).toThrow(
      /\/flakes\/x.yaml: cannot pin the image digests: it has no container mapping/,
    );
    expect(() => pinDigestsText(FILE, 'container: x\n', { x: A })).toThrow(PilotError);
  });
});

describe('checkPinned', () => {
  const before = parse(UPSTREAM);

  it('accepts a pinned text that only adds the pins', () => {
    const pinned = pinDigestsText(FILE, UPSTREAM, pins);
    expect(() => checkPinned([{ file: FILE, text: UPSTREAM }], pinned, before, pins)).not.toThrow();
  });

  it('refuses an edit that changed another setting', () => {
    const pinned = pinDigestsText(FILE, UPSTREAM, pins).replace('/usr/bin/x\n', '/usr/bin/y\n');
    expect(() => checkPinned([{ file: FILE, text: UPSTREAM }], pinned, before, pins)).toThrow(
      /would change another setting/,
    );
  });

  it('refuses when a drop-in overrides the pins', () => {
    const dropIn = {
      file: '/flakes/x.d/pins.yaml',
      text: `container:\n  digests:\n    localhost/x-delta: ${B}\n`,
    };
    const sources = [{ file: FILE, text: UPSTREAM }, dropIn];
    const merged = flakeFromSources(sources).flake;
    const pinned = pinDigestsText(FILE, UPSTREAM, pins);
    expect(() => checkPinned(sources, pinned, merged, pins)).toThrow(
      /a drop-in overrides container.digests for localhost\/x-delta/,
    );
  });
});

const entry: JournalEntry = {
  app: 'x',
  flake: FILE,
  mode: 0o644,
  previousFlake: 'before',
  pinnedFlake: 'pinned',
  link: '/usr/bin/x',
  previousTarget: '/usr/bin/podman-pilot',
  target: '/usr/lib/pilot/pilot-exec',
  images: { x: A },
};

describe('decideRevert', () => {
  const cases: [string, Parameters<typeof decideRevert>[1], ReturnType<typeof decideRevert>][] = [
    [
      'migrated: both back',
      { flake: 'pinned', link: 'pilot', linkTarget: entry.target },
      { kind: 'revert', flake: true, link: true },
    ],
    [
      'killed after the flake was written: the flake only',
      { flake: 'pinned', link: 'flake-pilot', linkTarget: entry.previousTarget },
      { kind: 'revert', flake: true, link: false },
    ],
    [
      'killed before anything changed: nothing, the entry goes',
      { flake: 'before', link: 'flake-pilot', linkTarget: entry.previousTarget },
      { kind: 'revert', flake: false, link: false },
    ],
    [
      'a revert killed after the flake: the link only',
      { flake: 'before', link: 'pilot', linkTarget: entry.target },
      { kind: 'revert', flake: false, link: true },
    ],
    [
      'a link removed by hand is put back',
      { flake: 'pinned', link: 'missing', linkTarget: undefined },
      { kind: 'revert', flake: true, link: true },
    ],
  ];
  it.each(cases)('%s', (_name, now, expected) => {
    expect(decideRevert(entry, now)).toEqual(expected);
  });

  it('refuses a flake changed or removed since, and a link that is no longer pilot’s', () => {
    const changed = decideRevert(entry, { flake: 'other', link: 'pilot', linkTarget: 'x' });
    expect(changed).toMatchObject({
      kind: 'refuse',
      reason: expect.stringMatching(/was changed since pilot migrate/),
    });
    const removed = decideRevert(entry, {
      flake: undefined,
      link: 'missing',
      linkTarget: undefined,
    });
    expect(removed).toMatchObject({
      kind: 'refuse',
      reason: expect.stringMatching(/was removed since/),
    });
    const foreign = decideRevert(entry, { flake: 'pinned', link: 'foreign', linkTarget: '/opt/x' });
    expect(foreign).toMatchObject({
      kind: 'refuse',
      reason: expect.stringMatching(/it points to \/opt\/x/),
    });
    const moved = decideRevert(entry, {
      flake: 'pinned',
      link: 'flake-pilot',
      linkTarget: '/opt/podman-pilot',
    });
    expect(moved.kind).toBe('refuse');
  });

  it('takes a flake that migrate left as it was (pins already there) as unchanged', () => {
    const same = { ...entry, pinnedFlake: 'before' };
    expect(decideRevert(same, { flake: 'before', link: 'pilot', linkTarget: 'x' })).toEqual({
      kind: 'revert',
      flake: false,
      link: true,
    });
  });
});

describe('baseline', () => {
  it('records what is there now for an app without an entry', () => {
    expect(baseline(undefined, 'now', '/usr/bin/podman-pilot')).toEqual({
      previousFlake: 'now',
      previousTarget: '/usr/bin/podman-pilot',
    });
  });

  it("keeps a half-done migration's original, so the journal leads back to flake-pilot's", () => {
    expect(baseline(entry, 'pinned', '/elsewhere/podman-pilot')).toEqual({
      previousFlake: 'before',
      previousTarget: '/usr/bin/podman-pilot',
    });
  });

  it('starts afresh when the flake was changed since the old entry', () => {
    expect(baseline(entry, 'edited', '/usr/bin/podman-pilot').previousFlake).toBe('edited');
  });
});
