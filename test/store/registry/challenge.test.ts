import { describe, expect, it } from 'vitest';
import { parseChallenges, pickChallenge } from '../../../src/store/registry/challenge.js';

describe('WWW-Authenticate', () => {
  it('reads a bearer challenge with quoted parameters', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ]);
  });

  it('reads several challenges, tokens, escapes and odd spacing', () => {
    const parsed = parseChallenges([
      'Basic realm="Registry \\"Realm\\"", charset=UTF-8',
      'Bearer realm = "https://t.example/token" , service=reg',
    ]);
    expect(parsed).toEqual([
      { scheme: 'basic', params: { realm: 'Registry "Realm"', charset: 'UTF-8' } },
      { scheme: 'bearer', params: { realm: 'https://t.example/token', service: 'reg' } },
    ]);
    expect(pickChallenge(parsed)?.scheme).toBe('bearer');
    expect(pickChallenge(parseChallenges('Basic realm="x"'))?.scheme).toBe('basic');
    expect(pickChallenge(parseChallenges('Negotiate'))).toBeUndefined();
    expect(parseChallenges(undefined)).toEqual([]);
    expect(parseChallenges('')).toEqual([]);
  });

  it('does not hang or throw on garbage', () => {
    for (const header of ['=', '"', 'Bearer realm="unterminated', ',,,', 'Bearer ,realm=x']) {
      expect(Array.isArray(parseChallenges(header))).toBe(true);
    }
  });
});
