import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import packageJson from '../../package.json' with { type: 'json' };
import { LAUNCHER_NAMES } from '../../src/core/app-registry.js';
import { type Installed, installPilot, make, run, writeTestArchive } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

function listTree(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? listTree(path, base) : [relative(base, path)];
  });
}

let installed: Installed;

beforeAll(() => {
  installed = installPilot('/usr');
}, 300_000);

afterAll(() => installed?.cleanup());

describe('make install PREFIX=/usr DESTDIR=...', () => {
  it('installs exactly the distribution layout, all under DESTDIR', () => {
    const files = listTree(installed.destdir).sort();
    const commands = run(installed.bin, ['--help']).stdout;
    expect(files).toContain('usr/bin/pilot');
    expect(files).toContain('usr/libexec/pilot/pilot.mjs');
    expect(files).toContain('usr/libexec/pilot/pilot-launch.mjs');
    expect(files).toContain('usr/libexec/pilot/pilot-exec');
    // Source maps beside each bundle and chunk: an internal error points at src/.
    expect(files).toContain('usr/libexec/pilot/pilot.mjs.map');
    expect(files).toContain('usr/libexec/pilot/pilot-launch.mjs.map');
    // The launcher's script, run by pilot-launch.mjs (build.mjs), with its map.
    expect(files).toContain('usr/libexec/pilot/chunks/launch.cjs');
    expect(files).toContain('usr/libexec/pilot/chunks/launch.cjs.map');
    const chunks = files.filter((f) => /^usr\/libexec\/pilot\/chunks\/.*\.mjs$/.test(f));
    expect(chunks.length).toBeGreaterThan(0);
    for (const chunk of chunks) expect(files).toContain(`${chunk}.map`);
    const map = JSON.parse(
      readFileSync(join(installed.destdir, 'usr/libexec/pilot/pilot.mjs.map'), 'utf8'),
    );
    expect(map.sources).toContain('../src/cli.ts');
    expect(files).toContain('usr/share/man/man1/pilot.1');
    expect(files).toContain('usr/share/man/man1/pilot-load.1');
    expect(files).toContain('usr/share/bash-completion/completions/pilot');
    expect(files).toContain('usr/share/zsh/site-functions/_pilot');
    // APT's hook that plans apps again after an upgrade (this is an APT host), naming the
    // installed pilot.
    expect(files).toContain('etc/apt/apt.conf.d/70pilot');
    expect(readFileSync(join(installed.destdir, 'etc/apt/apt.conf.d/70pilot'), 'utf8')).toContain(
      'DPkg::Post-Invoke { "if [ -x /usr/bin/pilot ]; then /usr/bin/pilot replan --all || true; fi"; };',
    );
    const unexpected = files.filter(
      (f) =>
        !/^usr\/(bin\/pilot|libexec\/pilot\/(pilot\.mjs(\.map)?|pilot-launch\.mjs(\.map)?|pilot-exec|chunks\/[a-z-]+-[A-Z0-9]+\.mjs(\.map)?|chunks\/launch\.cjs(\.map)?)|share\/man\/man1\/pilot(-[a-z]+){0,2}\.1|share\/bash-completion\/completions\/pilot|share\/zsh\/site-functions\/_pilot)$|^etc\/apt\/apt\.conf\.d\/70pilot$/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
    expect(commands).toContain('Commands:');
  });

  it('links bin/pilot relatively to the CLI in libexec, with executable bundles and helper', () => {
    const bin = installed.bin;
    expect(lstatSync(bin).isSymbolicLink()).toBe(true);
    expect(readlinkSync(bin)).toBe('../libexec/pilot/pilot.mjs');
    for (const name of ['pilot.mjs', 'pilot-launch.mjs', 'pilot-exec']) {
      const mode = lstatSync(join(installed.destdir, 'usr/libexec/pilot', name)).mode;
      expect(mode & 0o755, name).toBe(0o755);
    }
  });

  it('runs from DESTDIR, outside the repo: --version and --help', () => {
    const version = run(installed.bin, ['--version']);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe(packageJson.version);
    const help = run(installed.bin, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: pilot /);
  });

  it('finds the launcher and exec helper beside itself through the bin/pilot symlink', () => {
    const r = run(installed.bin, ['doctor', '--json'], {
      env: { PILOT_ROOT: join(installed.destdir, 'no-root'), PILOT_EXEC: undefined },
    });
    const checks = JSON.parse(r.stdout) as { check: string; status: string; detail: string }[];
    const libexec = join(installed.destdir, 'usr/libexec/pilot');
    expect(checks.find((c) => c.check === 'launcher')).toMatchObject({
      status: 'ok',
      detail: join(libexec, 'pilot-launch.mjs'),
    });
    expect(checks.find((c) => c.check === 'exec helper')).toMatchObject({
      status: 'ok',
      detail: join(libexec, 'pilot-exec'),
    });
  });

  it('registers apps as links to the installed launcher', () => {
    const work = mkdtempSync(join(tmpdir(), 'pilot-install-app-'));
    try {
      const env = { PILOT_ROOT: join(work, 'root'), PILOT_LAUNCHER: undefined };
      const archive = writeTestArchive(work, 'hello', 'test/hello:1');
      expect(run(installed.bin, ['load', archive, '--quiet'], { env }).code).toBe(0);
      const r = run(
        installed.bin,
        ['register', '--container', 'test/hello:1', '--app', '/usr/bin/hello'],
        { env },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      // the Node launcher or the exec stub; either way one of the installed siblings
      const target = readlinkSync(join(work, 'root/usr/bin/hello'));
      expect(dirname(target)).toBe(join(installed.destdir, 'usr/libexec/pilot'));
      expect(LAUNCHER_NAMES.has(basename(target))).toBe(true);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('make uninstall removes every installed file', () => {
    const other = installPilot('/opt/pilot');
    try {
      expect(existsSync(other.bin)).toBe(true);
      make(['uninstall', 'PREFIX=/opt/pilot', `DESTDIR=${other.destdir}`]);
      expect(listTree(other.destdir)).toEqual([]);
      expect(existsSync(join(other.destdir, 'opt/pilot/libexec/pilot'))).toBe(false);
    } finally {
      other.cleanup();
    }
  });
});
