/**
 * flake-pilot's names (make install FLAKE_CTL_NAMES=1, scripts/install-names.sh), all
 * under a temp DESTDIR: installed only on request, never over a package's file or any
 * other file, removed by uninstall only while they are pilot's links; and the
 * installed names work: flake-ctl at flake-ctl's level, podman-pilot as the launcher.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { make, repo, run } from './helpers.js';

vi.setConfig({ testTimeout: 120_000 });

const script = join(repo, 'scripts/install-names.sh');
let destdir: string;

beforeEach(() => {
  destdir = mkdtempSync(join(tmpdir(), 'pilot-names-'));
  mkdirSync(join(destdir, 'usr/bin'), { recursive: true });
});
afterEach(() => rmSync(destdir, { recursive: true, force: true }));

function names(action: string, ownerQuery = 'false') {
  const r = spawnSync('sh', [script, action, destdir, '/usr/bin', '/usr/libexec/pilot'], {
    encoding: 'utf8',
    env: { ...process.env, OWNER_QUERY: ownerQuery },
  });
  return { code: r.status, stderr: r.stderr };
}

const bin = (name: string) => join(destdir, 'usr/bin', name);

describe('scripts/install-names.sh', () => {
  it('links flake-ctl to the CLI and podman-pilot to the exec helper, relatively', () => {
    expect(names('install').code).toBe(0);
    expect(readlinkSync(bin('flake-ctl'))).toBe('../libexec/pilot/pilot.mjs');
    expect(readlinkSync(bin('podman-pilot'))).toBe('../libexec/pilot/pilot-exec');
    expect(names('install').code).toBe(0); // again: the same links are pilot's
    expect(names('uninstall').code).toBe(0);
    expect(existsSync(bin('flake-ctl')) || existsSync(bin('podman-pilot'))).toBe(false);
  });

  it('refuses a path a package owns, installing nothing', () => {
    // The query gets the final path, without DESTDIR, as dpkg-query -S / rpm -qf would.
    const query = join(destdir, 'query');
    writeFileSync(
      query,
      '#!/bin/sh\n[ "$1" = /usr/bin/podman-pilot ] && echo "flake-pilot: $1" && exit 0\nexit 1\n',
      { mode: 0o755 },
    );
    for (const action of ['check', 'install']) {
      const r = names(action, query);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(
        '/usr/bin/podman-pilot belongs to a package (flake-pilot: /usr/bin/podman-pilot): not installing podman-pilot over it',
      );
    }
    expect(existsSync(bin('flake-ctl'))).toBe(false);
  });

  it('refuses any other file at a name, and uninstall leaves it alone', () => {
    writeFileSync(bin('flake-ctl'), 'somebody else\n');
    const r = names('install');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bin('flake-ctl')} exists and is not pilot's flake-ctl link`);
    expect(existsSync(bin('podman-pilot'))).toBe(false);
    expect(names('uninstall').code).toBe(0);
    expect(readFileSync(bin('flake-ctl'), 'utf8')).toBe('somebody else\n');
  });

  it('treats a link elsewhere as another file', () => {
    symlinkSync('/usr/bin/true', bin('podman-pilot'));
    expect(names('install').code).toBe(1);
    expect(names('uninstall').code).toBe(0);
    expect(readlinkSync(bin('podman-pilot'))).toBe('/usr/bin/true');
  });
});

describe('make install FLAKE_CTL_NAMES=1', () => {
  it('installs the names only on request, and they run as flake-ctl and as the launcher', () => {
    make(['install', 'PREFIX=/usr', `DESTDIR=${destdir}`, 'OWNER_QUERY=false']);
    expect(existsSync(bin('flake-ctl'))).toBe(false);
    make([
      'install',
      'PREFIX=/usr',
      `DESTDIR=${destdir}`,
      'FLAKE_CTL_NAMES=1',
      'OWNER_QUERY=false',
    ]);
    expect(lstatSync(bin('flake-ctl')).isSymbolicLink()).toBe(true);
    const root = join(destdir, 'root');
    const list = run(bin('flake-ctl'), ['list', '--format', 'csv'], { env: { PILOT_ROOT: root } });
    expect(list).toMatchObject({ code: 0, stdout: '' });
    // The launcher under flake-pilot's name: an app of that name does not exist.
    const direct = run(bin('podman-pilot'), [], { env: { PILOT_ROOT: root } });
    expect(direct.code).toBe(125);
    expect(direct.stderr).toContain('no flake for app "podman-pilot"');
    make(['uninstall', 'PREFIX=/usr', `DESTDIR=${destdir}`]);
    expect(existsSync(bin('flake-ctl')) || existsSync(bin('podman-pilot'))).toBe(false);
    expect(existsSync(bin('pilot'))).toBe(false);
  });

  it('refuses before installing anything when a package owns a name', () => {
    const query = join(tmpdir(), `pilot-owner-${process.pid}`);
    writeFileSync(query, '#!/bin/sh\necho "flake-pilot: $1"\n', { mode: 0o755 });
    try {
      expect(() =>
        make([
          'install',
          'PREFIX=/usr',
          `DESTDIR=${destdir}`,
          'FLAKE_CTL_NAMES=1',
          `OWNER_QUERY=${query}`,
        ]),
      ).toThrow(/belongs to a package/);
      expect(existsSync(bin('pilot'))).toBe(false);
      expect(existsSync(join(destdir, 'usr/libexec'))).toBe(false);
    } finally {
      rmSync(query, { force: true });
    }
  });
});
