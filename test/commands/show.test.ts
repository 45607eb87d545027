/** `pilot show APP`: the merged flake, its files, its link and its effective settings. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { showApp } from '../../src/commands/show.js';
import type { FlakeWarning } from '../../src/core/flake-file.js';
import { type PilotPaths, resolvePaths } from '../../src/core/paths.js';

let dir: string;
let paths: PilotPaths;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-show-'));
  paths = resolvePaths({ root: join(dir, 'root') });
  mkdirSync(join(paths.flakes, 'hello.d'), { recursive: true });
  writeFileSync(
    join(paths.flakes, 'hello.yaml'),
    'container:\n  name: pilot/hello-delta\n  host_app_path: /usr/bin/hello\n  colour: blue\n',
  );
  writeFileSync(
    join(paths.flakes, 'hello.d', 'env.yaml'),
    'container:\n  runtime:\n    podman:\n      - -e GREETING=hi\n',
  );
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('showApp', () => {
  it('merges the flake and its drop-ins, and reports each warning as it reads', async () => {
    const warnings: FlakeWarning[] = [];
    const shown = await showApp(paths, '/usr/bin/hello', {
      onWarning: (w) => warnings.push(w),
      uid: 1000,
    });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ file: join(paths.flakes, 'hello.yaml'), line: 4 });
    expect(warnings[0]!.message).toContain('colour');
    expect(shown.files).toEqual([
      join(paths.flakes, 'hello.yaml'),
      join(paths.flakes, 'hello.d', 'env.yaml'),
    ]);
    expect(shown.flake.container.name).toBe('pilot/hello-delta');
    expect(shown.flake.container.runtime.podman).toEqual(['-e GREETING=hi']);
    expect(shown.effective.environment.values).toMatchObject({ GREETING: 'hi' });
    // No store: the image's User is unknown, and the flake is shown all the same.
    expect(shown.effective.identity.imageUser).toBeNull();
    expect(shown).toMatchObject({ link: 'missing', note: '' });
  });

  it("notes an app that flake-pilot still launches, in the YAML's comment", async () => {
    mkdirSync(join(paths.root, 'usr/bin'), { recursive: true });
    symlinkSync('/usr/bin/podman-pilot', join(paths.root, 'usr/bin/hello'));
    const shown = await showApp(paths, 'hello', { uid: 0 });
    expect(shown.link).toBe('flake-pilot');
    expect(shown.note).toMatch(/^# \/usr\/bin\/hello links to podman-pilot: .*"pilot migrate"/);
    expect(shown.note.endsWith('\n')).toBe(true);
  });

  it('fails on an app that is not registered, before any warning', async () => {
    const warnings: FlakeWarning[] = [];
    await expect(
      showApp(paths, 'nothing', { onWarning: (w) => warnings.push(w) }),
    ).rejects.toMatchObject({ code: 'PILOT_FLAKE_UNKNOWN' });
    expect(warnings).toEqual([]);
  });
});
