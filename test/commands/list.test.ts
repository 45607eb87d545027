/** `pilot list` and flake-ctl's `list`: the records read from a flakes directory. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listFlakeRecords, listPilotApps } from '../../src/commands/list.js';
import { type PilotPaths, resolvePaths } from '../../src/core/paths.js';

let dir: string;
let paths: PilotPaths;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-list-'));
  paths = resolvePaths({ root: join(dir, 'root') });
  mkdirSync(paths.flakes, { recursive: true });
  writeFileSync(
    join(paths.flakes, 'hello.yaml'),
    'container:\n  name: pilot/hello-delta\n  base_container: pilot/busybox-base\n  target_app_path: /usr/bin/hello\n  host_app_path: /usr/bin/hello\n',
  );
  writeFileSync(join(paths.flakes, 'broken.yaml'), 'container: [\n');
  mkdirSync(join(paths.root, 'usr/bin'), { recursive: true });
  symlinkSync('/usr/lib/pilot/pilot-exec', join(paths.root, 'usr/bin/hello'));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('listPilotApps', () => {
  it("gives pilot's own record of each app, and the error of one that does not read", () => {
    const entries = listPilotApps(paths);
    expect(entries.map((e) => e.app)).toEqual(['broken', 'hello']);
    expect(entries[0]).toMatchObject({ app: 'broken', ok: false, code: 'PILOT_FLAKE_INVALID' });
    expect(entries[1]).toMatchObject({
      app: 'hello',
      ok: true,
      host_app_path: '/usr/bin/hello',
      linked: true,
      link: 'pilot',
      container: 'pilot/hello-delta',
      base_container: 'pilot/busybox-base',
      behind: false,
    });
  });
});

describe('listFlakeRecords', () => {
  it("gives flake-ctl's keys only when run as flake-ctl", () => {
    const records = listFlakeRecords(paths, false);
    expect(records).toEqual([
      {
        name: 'broken',
        engine: null,
        target: null,
        host_app_path: null,
        config: join(paths.flakes, 'broken.yaml'),
      },
      {
        name: 'hello',
        engine: 'podman',
        target: '/usr/bin/hello',
        host_app_path: '/usr/bin/hello',
        config: join(paths.flakes, 'hello.yaml'),
      },
    ]);
  });

  it('adds "behind" last for pilot\'s own list --format (false: no store to be behind)', () => {
    const records = listFlakeRecords(paths, true);
    expect(records.map((r) => Object.keys(r).at(-1))).toEqual(['behind', 'behind']);
    expect(records.map((r) => r.behind)).toEqual([false, false]);
  });
});
