/**
 * Input that would be accepted now and fail later is refused, or warned about, by the
 * first command that sees it: a root that is empty, relative or has a character overlay
 * mount options cannot carry (also by the launcher, exit 125); archive names pilot
 * cannot use; an --include-tar that is no tar; a --target the image lacks.
 */
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dockerFiles, makeImage, simpleLayer, tarOf } from '../store/helpers.js';
import { type Installed, installPilot, run, writeTestArchive } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

let installed: Installed;
let work: string;
let archive: string;

beforeAll(() => {
  installed = installPilot();
  work = mkdtempSync(join(tmpdir(), 'pilot-bad-root-'));
  archive = writeTestArchive(work, 'one', 'test/one:1');
}, 300_000);

afterAll(() => {
  installed?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a bad root is refused up front', () => {
  it('--root "" is a usage error naming --root, not the system store', () => {
    for (const args of [['list'], ['images'], ['load', archive], ['doctor']]) {
      const r = run(installed.bin, ['--root', '', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain('--root "" names no directory');
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
  });

  it('a relative --root or PILOT_ROOT is refused at every command, with the absolute path to use', () => {
    for (const args of [['list'], ['images'], ['gc'], ['load', archive], ['doctor']]) {
      const viaOption = run(installed.bin, ['--root', 'rel', ...args], { cwd: work });
      expect(viaOption.code, args.join(' ')).toBe(2);
      expect(viaOption.stderr).toContain('--root "rel" is a relative path');
      expect(viaOption.stderr).toContain(`--root ${join(work, 'rel')}`);
      const viaEnv = run(installed.bin, args, { cwd: work, env: { PILOT_ROOT: 'rel' } });
      expect(viaEnv.code, args.join(' ')).toBe(2);
      expect(viaEnv.stderr).toContain('PILOT_ROOT "rel" is a relative path');
    }
  });

  it('a root with a comma is refused by load and register, naming the character', () => {
    const root = join(work, 'a,b');
    const load = run(installed.bin, ['load', archive], { env: { PILOT_ROOT: root } });
    expect(load.code).toBe(2);
    expect(load.stderr).toContain(
      `PILOT_ROOT "${root}" contains ',', which overlay mount options cannot carry`,
    );
    const register = run(installed.bin, [
      '--root',
      root,
      'register',
      '--container',
      'test/one:1',
      '--app',
      '/usr/bin/one',
    ]);
    expect(register.code).toBe(2);
    expect(register.stderr).toContain("contains ','");
  });

  it('the launcher refuses a relative PILOT_ROOT with exit 125 and the reason', () => {
    const link = join(work, 'someapp');
    symlinkSync(join(installed.destdir, 'usr/libexec/pilot/pilot-exec'), link);
    for (const root of ['rel', join(work, 'x:y')]) {
      const r = run(link, ['arg'], { cwd: work, env: { PILOT_ROOT: root } });
      expect(r.code, root).toBe(125);
      expect(r.stderr).toMatch(/^someapp: PILOT_ROOT ".*" (is a relative path|contains ':')/);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
  });
});

describe('load', () => {
  it('warns on stderr about a RepoTags entry it cannot use, also with --quiet', () => {
    const image = makeImage([simpleLayer('tagged')]);
    const file = join(work, 'tags.docker.tar');
    writeFileSync(file, tarOf(dockerFiles([{ image, repoTags: ['ok/app:1', 'No Good:1'] }])));
    const root = join(work, 'load-root');
    const r = run(installed.bin, ['--root', root, 'load', file, '--quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^pilot: warning: .*tags\.docker\.tar: manifest\.json: ignoring the RepoTags entry "No Good:1" of [0-9a-f]{64}\.json: it has the character " " .*; load with --name REF to name the image\n$/,
    );
    expect(run(installed.bin, ['--root', root, 'images', '--json']).stdout).toContain('ok/app:1');
  });
});

describe('register', () => {
  let root: string;
  const register = (...args: string[]) =>
    run(installed.bin, ['--root', root, 'register', '--container', 'test/one:1', ...args]);

  beforeAll(() => {
    root = join(work, 'register-root');
    expect(run(installed.bin, ['--root', root, 'load', archive]).code).toBe(0);
  });

  it('refuses an --include-tar that is no tar, naming it, and writes nothing', () => {
    const notTar = join(work, 'config.tar.gz');
    writeFileSync(notTar, 'just text\n');
    const r = register('--app', '/usr/bin/inc', '--include-tar', notTar);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `pilot: --include-tar "${notTar}" is not a tar archive (no tar header, no gzip, xz or zstd data)`,
    );
    expect(existsSync(join(root, 'usr/share/flakes/inc.yaml'))).toBe(false);
    expect(existsSync(join(root, 'usr/bin/inc'))).toBe(false);
  });

  it('refuses a --target the image lacks (it would fail every launch); --force warns instead', () => {
    const refused = register('--app', '/usr/bin/t', '--target', '/usr/bin/two');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'pilot: --target "/usr/bin/two" is not in the image, nor among its host files, include tars or volumes: the app could never run',
    );
    expect(existsSync(join(root, 'usr/share/flakes/t.yaml'))).toBe(false);
    expect(register('--app', '/usr/bin/t', '--target', '/usr/bin/one').code).toBe(0);
    const forced = register('--app', '/usr/bin/t', '--target', '/usr/bin/two', '--force');
    expect(forced.code).toBe(0);
    expect(forced.stderr).toMatch(
      /^pilot: warning: --target "\/usr\/bin\/two" .*registered anyway \(--force\)/,
    );
  });
});
