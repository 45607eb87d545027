/** flake-ctl's `list` and `podman show` records: exact keys, CSV without header, table cells. */
import { describe, expect, it } from 'vitest';
import {
  csvField,
  csvText,
  FLAKE_COLUMNS,
  flakeRecord,
  flakeRows,
  INSTANCE_COLUMNS,
  instanceRows,
  pilotListEntry,
  pilotListRows,
  tableCells,
} from '../../src/commands/flake-list.js';
import type { AppEntry } from '../../src/core/app-registry.js';
import { PilotError } from '../../src/core/errors.js';
import type { Flake } from '../../src/core/flake-file.js';
import { resolvePaths } from '../../src/core/paths.js';

function flake(container: Partial<Flake['container']> = {}): Flake {
  return {
    include: { tar: [], path: [] },
    container: {
      name: 'pilot/hello-delta',
      target_app_path: '/usr/bin/hello',
      host_app_path: '/usr/bin/hello',
      base_container: 'pilot/busybox-base',
      layers: ['a', 'b'],
      check_host_dependencies: false,
      host_files: 'skip_missing',
      digests: {},
      host_packages: [],
      runtime: { resume: false, attach: false, podman: [] },
      ...container,
    },
  };
}

const ok = (app: string, f = flake()): AppEntry => ({
  app,
  ok: true,
  flake: f,
  warnings: [],
  files: [`/flakes/${app}.yaml`],
});
const broken: AppEntry = {
  app: 'broken',
  ok: false,
  error: new PilotError('PILOT_FLAKE_INVALID', 'broken.yaml:3: bad'),
};

describe("flake-ctl's list records", () => {
  it("has exactly flake-ctl's keys, in its order", () => {
    const record = flakeRecord('/usr/share/flakes', ok('hello'));
    expect(Object.keys(record)).toEqual(['name', 'engine', 'target', 'host_app_path', 'config']);
    expect(record).toEqual({
      name: 'hello',
      engine: 'podman',
      target: '/usr/bin/hello',
      host_app_path: '/usr/bin/hello',
      config: '/usr/share/flakes/hello.yaml',
    });
  });

  it('gives null for what an unreadable flake cannot say, and keeps its config path', () => {
    expect(flakeRecord('/f', broken)).toEqual({
      name: 'broken',
      engine: null,
      target: null,
      host_app_path: null,
      config: '/f/broken.yaml',
    });
    const noPath = flake();
    delete noPath.container.host_app_path;
    expect(flakeRecord('/f', ok('x', noPath)).host_app_path).toBeNull();
  });

  it('prints CSV without a header line, empty fields for null', () => {
    const rows = flakeRows([flakeRecord('/f', ok('hello')), flakeRecord('/f', broken)]);
    expect(csvText(rows)).toBe(
      'hello,podman,/usr/bin/hello,/usr/bin/hello,/f/hello.yaml\nbroken,,,,/f/broken.yaml\n',
    );
    expect(csvText([])).toBe('');
  });

  it('quotes a CSV field as flake-ctl does, and escapes control characters', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvText([['a\nb', 'c']])).toBe('a\\x0ab,c\n');
  });

  it('shows null as "-" in the table, under flake-ctl\'s headline', () => {
    expect(FLAKE_COLUMNS).toEqual(['NAME', 'ENGINE', 'TARGET APP PATH', 'HOST APP PATH', 'CONFIG']);
    expect(tableCells(flakeRows([flakeRecord('/f', broken)]))).toEqual([
      ['broken', '-', '-', '-', '/f/broken.yaml'],
    ]);
  });
});

describe("pilot's own list records (list --json)", () => {
  const paths = resolvePaths({ root: '/tmp/pilot-none' });

  it('keeps the keys pilot list --json always had, and adds the link kind and behind', () => {
    const entry = pilotListEntry(paths, ok('hello'));
    expect(Object.keys(entry)).toEqual([
      'app',
      'ok',
      'host_app_path',
      'linked',
      'link',
      'container',
      'base_container',
      'layers',
      'target_app_path',
      'resume',
      'attach',
      'files',
      'warnings',
      'behind',
    ]);
    // No store: no tag names another image, so not behind.
    expect(entry).toMatchObject({ behind: false });
    // No link at /tmp/pilot-none/usr/bin/hello: missing, so not linked.
    expect(entry).toMatchObject({
      app: 'hello',
      linked: false,
      link: 'missing',
      layers: ['a', 'b'],
    });
  });

  it('reports a broken flake as an entry with its error, in the table too', () => {
    const entry = pilotListEntry(paths, broken);
    expect(entry).toEqual({
      app: 'broken',
      ok: false,
      error: 'broken.yaml:3: bad',
      code: 'PILOT_FLAKE_INVALID',
    });
    expect(pilotListRows([entry])).toEqual([['broken', '', 'error: broken.yaml:3: bad', '', '']]);
  });
});

describe("flake-ctl's podman show records", () => {
  it('abbreviates ids to 12 characters in the table only', () => {
    const record = {
      name: 'app@dev',
      user: 'root',
      id: 'app@dev-with-a-long-name',
      status: 'running' as const,
      image: null,
      config: null,
    };
    expect(INSTANCE_COLUMNS).toEqual(['NAME', 'USER', 'ID', 'STATUS', 'IMAGE', 'CONFIG']);
    expect(instanceRows([record], true)[0]![2]).toBe('app@dev-with');
    expect(csvText(instanceRows([record], false))).toBe(
      'app@dev,root,app@dev-with-a-long-name,running,,\n',
    );
  });
});
