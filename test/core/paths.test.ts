import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPilotError, type PilotError } from '../../src/core/errors.js';
import { readImageById } from '../../src/core/image-record.js';
import { digestHex, resolvePaths, storeDirs } from '../../src/core/paths.js';

function refusal(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (error) {
    if (isPilotError(error)) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('resolvePaths', () => {
  it('puts everything under an absolute root, normalised', () => {
    const paths = resolvePaths({ root: '/srv/pilot/./x/../root/' });
    expect(paths.root).toBe('/srv/pilot/root');
    expect(paths.store).toBe('/srv/pilot/root/var/lib/pilot');
    expect(paths.flakes).toBe('/srv/pilot/root/usr/share/flakes');
    expect(paths.run).toBe('/srv/pilot/root/run/pilot');
  });

  it("ignores a relative or empty XDG_* dir, as the XDG spec and the stub do (caller's own store)", () => {
    const home = '/home/u';
    for (const xdg of ['rel', '', undefined]) {
      const env = { HOME: home, XDG_RUNTIME_DIR: xdg, XDG_DATA_HOME: xdg, XDG_CONFIG_HOME: xdg };
      expect(resolvePaths({ env, uid: 1000 })).toEqual({
        root: '',
        store: '/home/u/.local/share/pilot',
        flakes: '/home/u/.config/flakes',
        run: '/home/u/.cache/pilot/run',
        system: false,
      });
    }
    const env = { HOME: home, XDG_RUNTIME_DIR: '/run/user/1000', XDG_DATA_HOME: '/d' };
    expect(resolvePaths({ env, uid: 1000 })).toMatchObject({
      store: '/d/pilot',
      run: '/run/user/1000/pilot',
    });
  });

  it('takes an empty PILOT_ROOT as unset, as the stub does', () => {
    expect(resolvePaths({ env: { PILOT_ROOT: '' }, uid: 0 }).store).toBe('/var/lib/pilot');
  });

  it('refuses --root "" (it would silently mean /) as a usage error naming --root', () => {
    const error = refusal(() => resolvePaths({ root: '', env: {}, uid: 0 }));
    expect(error.code).toBe('PILOT_USAGE');
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('--root "" names no directory');
  });

  it.each([
    ['--root', { root: 'rel/dir', env: {} }],
    ['PILOT_ROOT', { env: { PILOT_ROOT: 'rel/dir' } }],
    ['PILOT_ROOT', { env: { PILOT_ROOT: '.' } }],
  ])('refuses a relative %s, naming the absolute path to give instead', (source, options) => {
    const error = refusal(() => resolvePaths({ uid: 0, ...options }));
    expect(error.code).toBe('PILOT_USAGE');
    expect(error.message).toMatch(
      new RegExp(`^${source} ".*" is a relative path: pilot needs an absolute one`),
    );
    expect(error.hint).toContain(process.cwd());
  });

  it.each([
    ['/tmp/a,b', "','"],
    ['/tmp/a:b', "':'"],
    ['/tmp/a\\b', "'\\'"],
    ['/tmp/a\nb', 'a newline'],
  ])('refuses the root %j: it contains %s, which overlay mount options cannot carry', (root, name) => {
    for (const options of [{ root }, { env: { PILOT_ROOT: root } }]) {
      const error = refusal(() => resolvePaths({ uid: 0, ...options }));
      expect(error.code).toBe('PILOT_USAGE');
      expect(error.message).toContain(`contains ${name}, which overlay mount options cannot carry`);
      // The value is quoted escaped: a newline does not break the message.
      expect(error.message.split('\n')).toHaveLength(1);
    }
  });
});

describe('damaged store records', () => {
  it('a digest that is none is a PilotError naming it, not an internal error', () => {
    expect(digestHex(`sha256:${'a'.repeat(64)}`)).toBe('a'.repeat(64));
    let error: unknown;
    try {
      digestHex('sha256:../../etc');
    } catch (e) {
      error = e;
    }
    expect(isPilotError(error)).toBe(true);
    expect(error).toMatchObject({
      code: 'PILOT_IMAGE_INVALID',
      message: 'the store names "sha256:../../etc" where a sha256 digest belongs: a damaged record',
    });
  });

  it('an image record that is not JSON is a PilotError naming the file', () => {
    const root = mkdtempSync(join(tmpdir(), 'pilot-record-'));
    try {
      const paths = resolvePaths({ root });
      const id = `sha256:${'b'.repeat(64)}`;
      mkdirSync(storeDirs.images(paths), { recursive: true });
      const file = join(storeDirs.images(paths), `${'b'.repeat(64)}.json`);
      writeFileSync(file, '{"id": "sha256:');
      expect(() => readImageById(paths, id)).toThrow(
        expect.objectContaining({
          code: 'PILOT_IMAGE_INVALID',
          message: `image record ${file} is not valid JSON`,
        }),
      );
      expect(readImageById(paths, `sha256:${'c'.repeat(64)}`)).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
