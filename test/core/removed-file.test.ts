import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import { mergeRemovedLists, parseRemovedFile } from '../../src/core/removed-file.js';

describe('parseRemovedFile', () => {
  it.each<[string, string, string[]]>([
    ['an empty file', '', []],
    ['absolute paths', '/usr/bin/jq\n/etc/ssl/certs\n', ['/usr/bin/jq', '/etc/ssl/certs']],
    ['relative paths', 'usr/bin/jq\netc/pki', ['/usr/bin/jq', '/etc/pki']],
    ['trailing slashes', '/usr/share/doc/\nvar/lib/rpm//\n', ['/usr/share/doc', '/var/lib/rpm']],
    ['double slashes and ./', '//usr//bin/./jq\n./etc/hosts\n', ['/usr/bin/jq', '/etc/hosts']],
    ['CRLF and trailing spaces', '/usr/bin/jq \r\n/etc/x\r\n', ['/usr/bin/jq', '/etc/x']],
    ['leading whitespace', '   /usr/bin/jq\n\t/etc/x\n', ['/usr/bin/jq', '/etc/x']],
    [
      'blank lines and comments',
      '# removed by kiwi\n\n   \n; also a comment\n  # indented comment\n/usr/bin/jq\n',
      ['/usr/bin/jq'],
    ],
    ['a * is literal, not a glob', '/usr/lib/*.so\n', ['/usr/lib/*.so']],
    [
      'names with dots that are not ..',
      '/etc/.hidden\n/usr/lib/..x\n/a/.../b\n',
      ['/etc/.hidden', '/usr/lib/..x', '/a/.../b'],
    ],
    ['a byte-order mark', '\uFEFF/usr/bin/jq\n', ['/usr/bin/jq']],
    ['duplicates are kept in file order', '/a\n/b\n/a\n', ['/a', '/b', '/a']],
    ['a # inside a path is literal', '/usr/share/c#\n', ['/usr/share/c#']],
  ])('%s', (_name, text, expected) => {
    expect(parseRemovedFile(text, 'delta:/removed')).toEqual(expected);
  });

  it.each<[string, string, number, RegExp]>([
    ['a .. component', '/usr/bin/jq\n../etc/shadow\n', 2, /has a "\.\." component/],
    ['.. in the middle', '\n\n/usr/../../etc/shadow\n', 3, /"\/usr\/\.\.\/\.\.\/etc\/shadow"/],
    ['a trailing ..', '/usr/..\n', 1, /"\.\." component/],
    ['a NUL byte', '/usr/bin/jq\0x\n', 1, /NUL byte/],
    ['the root itself', '/\n', 1, /whole root/],
    ['only ./', './\n', 1, /whole root/],
    [
      'a path longer than PATH_MAX',
      `/x\n/${'d/'.repeat(2500)}f\n`,
      2,
      /5002 bytes; a path has at most 4095$/,
    ],
    [
      'a name longer than NAME_MAX',
      `/usr/${'n'.repeat(256)}\n`,
      1,
      /has 256 bytes; a name has at most 255$/,
    ],
  ])('refuses %s with source and line', (_name, text, line, pattern) => {
    let caught: unknown;
    try {
      parseRemovedFile(text, 'img:/removed');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PilotError);
    const error = caught as PilotError;
    expect(error.code).toBe('PILOT_REMOVED_UNSAFE');
    expect(error.message.startsWith(`img:/removed:${line}: unsafe path `)).toBe(true);
    expect(error.message).toMatch(pattern);
  });
  it('quotes a short escaped excerpt of a refused line, not the whole line', () => {
    const line = `/\x1b[2J${'x'.repeat(300)}/..`;
    expect(() => parseRemovedFile(`${line}\n`, 'img:/removed')).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(/^img:\/removed:1: unsafe path "\/\\x1b\[2Jx{60,80}…" in/),
      }),
    );
  });
});

describe('mergeRemovedLists', () => {
  it.each<[string, string[][], string[]]>([
    ['no lists', [], []],
    ['one list', [['/a', '/b']], ['/a', '/b']],
    [
      'base, layer and delta, first seen order',
      [
        ['/usr/bin/jq', '/etc/pki'],
        ['/etc/pki', '/usr/bin/zypper'],
        ['/usr/bin/jq', '/usr/bin/rpm'],
      ],
      ['/usr/bin/jq', '/etc/pki', '/usr/bin/zypper', '/usr/bin/rpm'],
    ],
    ['duplicates inside one list', [['/a', '/a', '/b']], ['/a', '/b']],
  ])('%s', (_name, lists, expected) => {
    expect(mergeRemovedLists(lists)).toEqual(expected);
  });
});
