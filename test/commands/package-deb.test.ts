import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  controlText,
  debArchitecture,
  debPackageName,
  packageVersion,
  postinstScript,
  prermScript,
  pullRef,
  shellQuote,
  versionFromRef,
} from '../../src/commands/package-deb.js';

const now = new Date('2025-03-04T05:06:07Z');
const id = `sha256:${'a'.repeat(64)}`;
const manifest = `sha256:${'b'.repeat(64)}`;

describe('package names, versions and architectures', () => {
  it.each([
    ['hello', 'pilot-app-hello'],
    ['My_App', 'pilot-app-my-app'],
    ['aws.cli+2', 'pilot-app-aws.cli+2'],
  ])('%s → %s', (app, name) => expect(debPackageName(app)).toBe(name));

  it.each([
    ['localhost/app:1.2.3', '1.2.3'],
    ['registry:5000/app:v2.0', '2.0'],
    ['app:2024.01+b1', '2024.01+b1'],
    ['app:latest', undefined],
    ['app', undefined],
    ['registry:5000/app', undefined],
    ['app:1.0@sha256:abc', '1.0'],
    ['app:1.0_rc1', undefined],
  ])('version of %s', (ref, version) => expect(versionFromRef(ref)).toBe(version));

  it('--version wins; else the tag; else a dated 0.0.0', () => {
    expect(packageVersion('app:1.0', '3:1.1-2', now)).toBe('3:1.1-2');
    expect(packageVersion('app:1.0', undefined, now)).toBe('1.0');
    expect(packageVersion('app:latest', undefined, now)).toBe('0.0.0+pilot.20250304050607');
    expect(() => packageVersion('app', 'v1', now)).toThrow(
      /--version "v1" is not a Debian version/,
    );
    expect(() => packageVersion('app', '1 0', now)).toThrow(/not a Debian version/);
  });

  it('maps OCI architectures to Debian ones', () => {
    expect(debArchitecture('amd64')).toBe('amd64');
    expect(debArchitecture('arm64', 'v8')).toBe('arm64');
    expect(debArchitecture('arm', 'v7')).toBe('armhf');
    expect(debArchitecture('arm', 'v6')).toBe('armel');
    expect(debArchitecture('ppc64le')).toBe('ppc64el');
    expect(() => debArchitecture(undefined)).toThrow(/architecture "\(none\)" has no Debian/);
  });

  it('pulls by the repository and the manifest digest, dropping the tag', () => {
    expect(pullRef({ ref: 'registry:5000/ns/app:1.0', id, manifestDigest: manifest })).toBe(
      `registry:5000/ns/app@${manifest}`,
    );
    expect(pullRef({ ref: 'localhost/app', id, manifestDigest: manifest })).toBe(
      `localhost/app@${manifest}`,
    );
  });
});

describe('control file and maintainer scripts', () => {
  it('declares the dependency on pilot and lists the images', () => {
    const text = controlText({
      package: 'pilot-app-hello',
      version: '1.0',
      architecture: 'all',
      pilotVersion: '0.1.0',
      installedSizeKiB: 4,
      maintainer: 'x <x@y>',
      app: 'hello',
      images: [`localhost/hello:1.0 ${id}`],
    });
    expect(text).toMatch(/^Depends: pilot \(>= 0\.1\.0\)$/m);
    expect(text).toMatch(/^Architecture: all$/m);
    expect(text).toContain(`\n  localhost/hello:1.0 ${id}\n`);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('quotes shell words', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  // The scripts run for real against a fake `pilot` that logs its arguments.
  function runScript(script: string, action: string, imagesJson = '[]') {
    const dir = mkdtempSync(join(tmpdir(), 'pilot-script-'));
    try {
      writeFileSync(join(dir, 'script'), script, { mode: 0o755 });
      writeFileSync(
        join(dir, 'pilot'),
        `#!/bin/sh\necho "pilot $*" >>"${dir}/log"\n[ "$1" = images ] && echo '${imagesJson}'\nexit 0\n`,
        { mode: 0o755 },
      );
      const r = spawnSync('sh', [join(dir, 'script'), action], {
        env: { PATH: `${dir}:/usr/bin:/bin` },
        encoding: 'utf8',
      });
      let log = '';
      try {
        log = readFileSync(join(dir, 'log'), 'utf8');
      } catch {}
      return { code: r.status, log, stderr: r.stderr };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('postinst configure pulls what the store lacks, then registers from the shipped flake', () => {
    const script = postinstScript('hello', [
      { ref: 'localhost/hello:1.0', id, manifestDigest: manifest },
      { ref: 'localhost/base:1', id: `sha256:${'c'.repeat(64)}`, manifestDigest: manifest },
    ]);
    expect(spawnSync('sh', ['-n'], { input: script }).status).toBe(0);
    const r = runScript(script, 'configure', `[{ "id": "${id}" }]`);
    expect(r.code).toBe(0);
    expect(r.log.split('\n').filter((l) => !l.startsWith('pilot images'))).toEqual([
      `pilot pull --quiet localhost/base@${manifest}`,
      'pilot register --force --from-flake /usr/share/pilot/apps/hello/hello.yaml',
      '',
    ]);
    expect(runScript(script, 'abort-upgrade').log).toBe('');
  });

  it('postinst with shipped images loads them', () => {
    const script = postinstScript('hello', 'shipped');
    expect(script).toContain(`for archive in '/usr/share/pilot/apps/hello'/images/*.tar; do`);
    expect(script).toContain('pilot load --quiet "$archive"');
    expect(script).toMatch(/^set -e$/m);
  });

  it('prerm removes the registration on remove only, and never fails the removal', () => {
    const script = prermScript('hello', '/usr/bin/hello');
    expect(runScript(script, 'remove').log).toBe('pilot remove --app /usr/bin/hello\n');
    expect(runScript(script, 'upgrade').log).toBe('');
    const failing = script.replace('if ! pilot remove', 'if ! false');
    const r = runScript(failing, 'remove');
    expect([r.code, r.stderr]).toEqual([0, expect.stringContaining('was not removed')]);
  });
});
