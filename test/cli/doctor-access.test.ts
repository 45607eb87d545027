/**
 * `pilot doctor` checks that other users can run the registered apps of a system store:
 * a flake, drop-in, store dir or launcher that others cannot read is named, with the
 * chmod that opens it. Real files in a temp root; nothing is run.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DoctorHost, runDoctor } from '../../src/commands/doctor.js';
import { accessProblems, checkAccessForOthers } from '../../src/commands/doctor-access.js';
import { resolvePaths } from '../../src/core/paths.js';

let work: string;
let root: string;
let launcher: string;
let helper: string;

const FLAKE = `container:
  name: test/app
  target_app_path: /usr/bin/app
  host_app_path: /usr/bin/app
`;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'pilot-doctor-access-'));
  chmodSync(work, 0o755);
  root = join(work, 'root');
  const flakes = join(root, 'usr/share/flakes');
  mkdirSync(join(flakes, 'app.d'), { recursive: true, mode: 0o755 });
  mkdirSync(join(root, 'usr/bin'), { mode: 0o755 });
  writeFileSync(join(flakes, 'app.yaml'), FLAKE, { mode: 0o644 });
  writeFileSync(join(flakes, 'app.d/10-env.yaml'), 'container: {}\n', { mode: 0o644 });
  for (const dir of ['images', 'refs', 'layers', 'l', 'host']) {
    mkdirSync(join(root, 'var/lib/pilot', dir), { recursive: true, mode: 0o755 });
  }
  writeFileSync(join(root, 'var/lib/pilot/refs/test%2Fapp%3Alatest'), 'sha256:x\n', {
    mode: 0o644,
  });
  // A private host layer is private by design: never named.
  mkdirSync(join(root, 'var/lib/pilot/host', 'a'.repeat(64)), { mode: 0o700 });
  mkdirSync(join(work, 'libexec'), { mode: 0o755 });
  launcher = join(work, 'libexec/pilot-launch.mjs');
  helper = join(work, 'libexec/pilot-exec');
  writeFileSync(launcher, '', { mode: 0o644 });
  writeFileSync(helper, '', { mode: 0o755 });
  // writeFileSync's and mkdirSync's modes went through this process's umask.
  for (const [path, mode] of [
    [join(root, 'usr/share/flakes/app.yaml'), 0o644],
    [join(root, 'usr/share/flakes/app.d/10-env.yaml'), 0o644],
    [launcher, 0o644],
    [helper, 0o755],
  ] as const)
    chmodSync(path, mode);
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

const paths = () => resolvePaths({ root });

describe('doctor: apps for other users', () => {
  it('is ok when others can run the launcher and read flakes and store', () => {
    expect(accessProblems(paths(), launcher, helper)).toEqual([]);
    expect(checkAccessForOthers(paths(), launcher, helper)).toMatchObject({
      check: 'apps for other users',
      status: 'ok',
      fix: null,
    });
  });

  it('warns about a flake only root can read (0600), naming it and the chmod', () => {
    const flake = join(root, 'usr/share/flakes/app.yaml');
    chmodSync(flake, 0o600);
    const check = checkAccessForOthers(paths(), launcher, helper);
    expect(check.status).toBe('warn');
    expect(check.required).toBe(false);
    expect(check.detail).toBe(
      `other users cannot run the registered apps: ${flake} (flake file: needs o+r)`,
    );
    expect(check.fix).toMatch(new RegExp(`^chmod o\\+r ${flake} \\(`));
  });

  it('names a private drop-in, flakes dir, store dir, app link dir and launcher', () => {
    const flakes = join(root, 'usr/share/flakes');
    chmodSync(join(flakes, 'app.d/10-env.yaml'), 0o600);
    chmodSync(join(root, 'var/lib/pilot/images'), 0o700);
    chmodSync(join(root, 'usr/bin'), 0o750);
    chmodSync(helper, 0o750);
    chmodSync(launcher, 0o640);
    expect(accessProblems(paths(), launcher, helper)).toEqual([
      { path: helper, need: 'x', what: 'exec helper' },
      { path: launcher, need: 'r', what: 'launcher' },
      { path: join(flakes, 'app.d/10-env.yaml'), need: 'r', what: 'drop-in file' },
      { path: join(root, 'usr/bin'), need: 'x', what: 'app link directory' },
      { path: join(root, 'var/lib/pilot/images'), need: 'rx', what: 'store directory' },
    ]);
    chmodSync(flakes, 0o700);
    const check = checkAccessForOthers(paths(), launcher, helper);
    expect(check.detail).toContain(`${flakes} (flakes directory: needs o+rx)`);
    expect(check.fix).toContain(`chmod o+rx ${flakes} ${join(root, 'var/lib/pilot/images')}`);
  });

  it('names the directory above that others cannot search', () => {
    chmodSync(join(root, 'usr/share'), 0o700);
    const problems = accessProblems(paths(), launcher, helper);
    expect(problems).toEqual([
      {
        path: join(root, 'usr/share'),
        need: 'x',
        what: `directory above ${join(root, 'usr/share/flakes')}`,
      },
    ]);
  });

  it("does not apply to a user's own store", () => {
    const own = resolvePaths({ env: { HOME: join(work, 'home') }, uid: 1000 });
    chmodSync(helper, 0o700);
    expect(accessProblems(own, launcher, helper)).toEqual([]);
    expect(checkAccessForOthers(own, launcher, helper).detail).toContain("this user's own store");
  });

  it('is one of the checks runDoctor makes, a warning only', () => {
    chmodSync(join(root, 'usr/share/flakes/app.yaml'), 0o600);
    const host: DoctorHost = {
      uid: 0,
      kernelRelease: '6.1.0',
      readText: () => undefined,
      exists: () => false,
      which: () => undefined,
      run: () => ({ code: 0, stdout: '', stderr: '' }),
      deviceOf: () => undefined,
      freeBytes: () => 0,
    };
    const check = runDoctor({ paths: paths(), launcher, helper, host }).find(
      (c) => c.check === 'apps for other users',
    );
    expect(check).toMatchObject({ status: 'warn', required: false });
  });
});
