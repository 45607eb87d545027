import { describe, expect, it } from 'vitest';
import { hostSettings, onHost } from '../../src/core/host-root.js';

describe('hostSettings (PILOT_HOST_ROOT, PILOT_HOST_PACKAGES)', () => {
  it.each([
    ['unset', {}, { root: '/', packages: 'auto' }],
    [
      'empty means unset',
      { PILOT_HOST_ROOT: '', PILOT_HOST_PACKAGES: '' },
      { root: '/', packages: 'auto' },
    ],
    [
      'a root, normalized',
      { PILOT_HOST_ROOT: '/srv//host/./' },
      { root: '/srv/host', packages: 'auto' },
    ],
    ['/ itself', { PILOT_HOST_ROOT: '///' }, { root: '/', packages: 'auto' }],
    ['rpm', { PILOT_HOST_PACKAGES: 'rpm' }, { root: '/', packages: 'rpm' }],
    ['dpkg', { PILOT_HOST_PACKAGES: 'dpkg' }, { root: '/', packages: 'dpkg' }],
    ['none', { PILOT_HOST_PACKAGES: 'none' }, { root: '/', packages: 'none' }],
  ])('%s', (_name, env, expected) => {
    expect(hostSettings(env)).toEqual(expected);
  });

  it.each([
    [
      'a relative root',
      { PILOT_HOST_ROOT: 'srv/host' },
      /^PILOT_HOST_ROOT "srv\/host" is not an absolute path/,
    ],
    ['a root with ..', { PILOT_HOST_ROOT: '/srv/../etc' }, /^PILOT_HOST_ROOT "\/srv\/..\/etc"/],
    ['a root with a newline', { PILOT_HOST_ROOT: '/srv\nx' }, /^PILOT_HOST_ROOT "\/srv\\nx"/],
    [
      'another package manager',
      { PILOT_HOST_PACKAGES: 'zypper' },
      /^PILOT_HOST_PACKAGES "zypper" is not a package manager pilot reads$/,
    ],
  ])('refuses %s as a usage error naming the variable', (_name, env, message) => {
    expect(() => hostSettings(env)).toThrow(message);
    try {
      hostSettings(env);
    } catch (error) {
      expect((error as { code: string }).code).toBe('PILOT_USAGE');
    }
  });

  it('places a host path inside the root', () => {
    expect(onHost('/', '/usr/bin/jq')).toBe('/usr/bin/jq');
    expect(onHost('/srv/host', '/usr/bin/jq')).toBe('/srv/host/usr/bin/jq');
  });
});
