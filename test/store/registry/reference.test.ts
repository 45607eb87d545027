import { describe, expect, it } from 'vitest';
import { isFullyQualified } from '../../../src/core/image-record.js';
import { apiHost, formatReference, parseReference } from '../../../src/store/registry/reference.js';

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', 'latest', undefined, false],
    ['team/app:1', 'docker.io', 'team/app', '1', undefined, false],
    ['docker.io/busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined, true],
    ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', 'latest', undefined, true],
    [
      'registry.example.com/team/app:1.0',
      'registry.example.com',
      'team/app',
      '1.0',
      undefined,
      true,
    ],
    ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000', 'a/b/c', 'latest', undefined, true],
    ['localhost/app', 'localhost', 'app', 'latest', undefined, true],
    ['localhost:5000/app:v2', 'localhost:5000', 'app', 'v2', undefined, true],
    [
      'host.example/app@sha256:' + 'a'.repeat(64),
      'host.example',
      'app',
      undefined,
      `sha256:${'a'.repeat(64)}`,
      true,
    ],
    [
      'host.example/app:1@sha256:' + 'b'.repeat(64),
      'host.example',
      'app',
      '1',
      `sha256:${'b'.repeat(64)}`,
      true,
    ],
    ['[::1]:5000/app', '[::1]:5000', 'app', 'latest', undefined, true],
    ['my_team/app-x__y.z', 'docker.io', 'my_team/app-x__y.z', 'latest', undefined, false],
  ])('%s', (ref, registry, repository, tag, digest, fullyQualified) => {
    expect(parseReference(ref)).toEqual({ registry, repository, tag, digest, fullyQualified });
  });

  it.each([
    ['', /empty/],
    ['Registry.example.com', /path component "Registry.example.com"/],
    ['host.example/App', /path component "App"/],
    ['host.example/app@sha256:abc', /"@" is not followed/],
    ['host.example/app@md5:' + 'a'.repeat(32), /"@" is not followed/],
    ['host.example/app:-bad', /tag "-bad"/],
    ['host.example:99999/app', /"99999" is not a port/],
    ['host.example/', /no image path|empty component/],
    ['host.example//app', /empty component/],
    ['a..b/app', /not a host name/],
    ['host.example/a--', /path component "a--"/],
  ])('refuses %s', (ref, why) => {
    expect(() => parseReference(ref)).toThrow(why);
    try {
      parseReference(ref);
    } catch (error) {
      expect(error).toMatchObject({ code: 'PILOT_USAGE', exitCode: 2 });
    }
  });

  it('formats back in full, and maps docker.io to its API host', () => {
    expect(formatReference(parseReference('busybox'))).toBe('docker.io/library/busybox:latest');
    expect(formatReference(parseReference(`x.io/a:1@sha256:${'c'.repeat(64)}`))).toBe(
      `x.io/a:1@sha256:${'c'.repeat(64)}`,
    );
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });
});

describe('isFullyQualified (DESIGN: a "." or ":" in the first part, or localhost)', () => {
  it.each([
    ['registry.example.com/app', true],
    ['127.0.0.1:5000/app', true],
    ['localhost/app', true],
    ['localhost', false],
    ['busybox', false],
    ['team/app', false],
    ['busybox:1.36', false],
    ['localhostx/app', false],
  ])('%s → %s', (ref, expected) => {
    expect(isFullyQualified(ref)).toBe(expected);
  });
});
