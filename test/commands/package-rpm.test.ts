import { describe, expect, it } from 'vitest';
import { rpmArchitecture, rpmVersion, specText } from '../../src/commands/package-rpm.js';

describe('rpm names, versions and spec', () => {
  it.each([
    ['1.0', { version: '1.0', release: '1' }],
    ['2.0-3', { version: '2.0', release: '3' }],
    ['1:2.0-3', { version: '2.0', release: '3' }],
    ['0.0.0+pilot.20250304050607', { version: '0.0.0+pilot.20250304050607', release: '1' }],
  ])('version %s', (debian, rpm) => expect(rpmVersion(debian)).toEqual(rpm));

  it('maps Debian architectures', () => {
    expect(rpmArchitecture('all')).toBe('noarch');
    expect(rpmArchitecture('amd64')).toBe('x86_64');
    expect(rpmArchitecture('arm64')).toBe('aarch64');
    expect(() => rpmArchitecture('mips64el')).toThrow(/no RPM architecture/);
  });

  it('registers in %post and removes in %preun only when the last instance goes', () => {
    const spec = specText({
      name: 'pilot-app-hello',
      version: '1.0',
      architecture: 'all',
      pilotVersion: '0.1.0',
      app: 'hello',
      appPath: '/usr/bin/hello',
      images: 'shipped',
      files: ['/usr/share/pilot/apps/hello/hello.yaml', '/srv/100%.tar'],
      dirs: ['/usr/share/pilot/apps/hello'],
      stagedRoot: '/tmp/stage/root',
    });
    expect(spec).toMatch(/^Requires: pilot >= 0\.1\.0$/m);
    expect(spec).toMatch(/^BuildArch: noarch$/m);
    expect(spec).toContain(
      "%post\nset -e\n# The images shipped with the package (pilot load keeps what the store has already).\nfor archive in '/usr/share/pilot/apps/hello'/images/*.tar; do\n",
    );
    expect(spec).toContain(
      "pilot register --force --from-flake '/usr/share/pilot/apps/hello/hello.yaml'\n",
    );
    expect(spec).toContain(
      `%preun\nset -e\nif [ "$1" -eq 0 ]; then\n\tif ! pilot remove --app '/usr/bin/hello'; then\n`,
    );
    // A % in a path is literal, never a macro.
    expect(spec).toContain('"/srv/100%%.tar"\n');
    expect(spec).toContain('%dir "/usr/share/pilot/apps/hello"\n');
  });
});
