import { describe, expect, it } from 'vitest';
import { isFullyQualified } from '../../src/core/image-record.js';
import {
  apiHost,
  parseDockerReference,
  parsePullReference,
  referenceName,
  referenceString,
  withDefaultTag,
} from '../../src/store/docker-reference.js';

const A64 = 'a'.repeat(64);

describe('parseDockerReference (containers/image ParseNormalizedNamed)', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', undefined, undefined],
    ['team/app:1', 'docker.io', 'team/app', '1', undefined],
    ['docker.io/busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['index.docker.io/library/busybox', 'docker.io', 'library/busybox', undefined, undefined],
    ['index.docker.io/team/app:1', 'docker.io', 'team/app', '1', undefined],
    ['registry.example.com/team/app:1.0', 'registry.example.com', 'team/app', '1.0', undefined],
    ['127.0.0.1:5000/a/b/c', '127.0.0.1:5000', 'a/b/c', undefined, undefined],
    ['localhost/app', 'localhost', 'app', undefined, undefined],
    ['localhost:5000/app:v2', 'localhost:5000', 'app', 'v2', undefined],
    ['[::1]:5000/app', '[::1]:5000', 'app', undefined, undefined],
    ['Registry/app', 'Registry', 'app', undefined, undefined],
    ['my_team/app-x__y.z', 'docker.io', 'my_team/app-x__y.z', undefined, undefined],
    ['a/b---c', 'docker.io', 'a/b---c', undefined, undefined],
    [`host.example/app@sha256:${A64}`, 'host.example', 'app', undefined, `sha256:${A64}`],
    [`host.example/app:1@sha256:${A64}`, 'host.example', 'app', '1', `sha256:${A64}`],
    [`x.io/a@sha512:${'b'.repeat(128)}`, 'x.io', 'a', undefined, `sha512:${'b'.repeat(128)}`],
    [`x.io/a:${'t'.repeat(128)}`, 'x.io', 'a', 't'.repeat(128), undefined],
  ])('%s', (text, domain, path, tag, digest) => {
    expect(parseDockerReference(text)).toEqual({ domain, path, tag, digest });
  });

  it.each([
    ['', /empty/],
    [':1', /no repository name/],
    ['Registry.example.com', /must be lowercase/],
    ['host.example/App', /must be lowercase/],
    ['Reg.Example/Team/App', /must be lowercase/],
    ['host.example/app@sha256:abc', /"sha256:abc" after "@" is not a digest/],
    [`host.example/app@md5:${'a'.repeat(32)}`, /"md5" is not sha256, sha384 or sha512/],
    [`host.example/app@sha256:${'a'.repeat(63)}b0`, /64 lower-case hex/],
    [`host.example/app@sha256:${'A'.repeat(64)}`, /64 lower-case hex/],
    ['host.example/app:-bad', /tag "-bad" is not valid/],
    ['host/app:bad tag', /tag "bad tag" is not valid/],
    [`x.io/a:${'t'.repeat(129)}`, /tag .* is not valid/],
    ['host.example:99999/app', /"99999" is not a port/],
    ['host.example:0/app', /"0" is not a port/],
    ['host.example/', /empty path component/],
    ['host.example//app', /empty path component/],
    ['a..b/app', /"a..b" is not a registry host/],
    ['-host.example/app', /is not a registry host/],
    ['host.example/a--', /path component "a--"/],
    ['host.example/a..b', /path component "a..b"/],
    ['host.example/_a', /path component "_a"/],
    [A64, /is an image ID/],
    [`x.io/${'a/'.repeat(124)}bcd`, /its name has 256 characters \(at most 255\)/],
  ])('refuses %s', (text, why) => {
    const parsed = parseDockerReference(text);
    expect(typeof parsed).toBe('string');
    expect(parsed).toMatch(why);
  });

  it('counts the 255 characters on the normalised name, as distribution does', () => {
    const path = `${'a/'.repeat(121)}bcd`; // docker.io/ + 245 = 255
    expect(parseDockerReference(`docker.io/${path}`)).toMatchObject({ path });
    expect(parseDockerReference(`${path}x`)).toMatch(/256 characters/);
  });

  it('formats back in full', () => {
    const parsed = parseDockerReference(`x.io/a:1@sha256:${'c'.repeat(64)}`);
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(referenceString(parsed)).toBe(`x.io/a:1@sha256:${'c'.repeat(64)}`);
    expect(referenceName(parsed)).toBe('x.io/a');
  });
});

describe('parsePullReference', () => {
  it('adds :latest only when neither a tag nor a digest is written', () => {
    expect(referenceString(parsePullReference('busybox'))).toBe('docker.io/library/busybox:latest');
    expect(parsePullReference(`x.io/a@sha256:${A64}`).tag).toBeUndefined();
    const bare = parseDockerReference('x.io/a');
    if (typeof bare === 'string') throw new Error(bare);
    expect(withDefaultTag(bare).tag).toBe('latest');
  });

  it.each([
    ['', /is not a valid image reference: it is empty/],
    ['host.example/App', /must be lowercase/],
    [`x.io/a@sha512:${'b'.repeat(128)}`, /sha256 digests only/],
  ])('refuses %s as a usage error', (text, why) => {
    expect(() => parsePullReference(text)).toThrow(why);
    try {
      parsePullReference(text);
    } catch (error) {
      expect(error).toMatchObject({ code: 'PILOT_USAGE', exitCode: 2 });
    }
  });

  it('maps docker.io to its API host', () => {
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
