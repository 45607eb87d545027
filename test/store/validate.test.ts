import { describe, expect, it } from 'vitest';
import { EntryValidator } from '../../src/store/extract.js';
import { expectLinear } from '../scaling.js';

type Entry = [path: string, type: string, linkpath?: string];

function validate(entries: Entry[]): void {
  const validator = new EntryValidator('layer.tar', false);
  for (const [path, type, linkpath] of entries) {
    validator.check({ path, type, linkpath, size: 0, devmajor: 0, devminor: 0 });
  }
}

describe('EntryValidator: entries GNU tar could not extract', () => {
  it.each<[string, Entry[], RegExp]>([
    [
      'a file over a directory that holds entries',
      [
        ['b/a', 'File'],
        ['b', 'File'],
      ],
      /^layer\.tar: entry "b" would replace the directory "b" that earlier entries are in; refused$/,
    ],
    [
      'a symlink over a directory that holds entries',
      [
        ['b/', 'Directory'],
        ['b/c/d', 'File'],
        ['b/c', 'SymbolicLink', 'x'],
      ],
      /entry "b\/c" would replace the directory "b\/c"/,
    ],
    [
      // GNU tar follows the link to decide: with a target that exists on the host
      // (e.g. /etc) it failed halfway; with another it made a directory.
      'a directory over a symlink of the same archive',
      [
        ['a', 'SymbolicLink', '/etc'],
        ['a/', 'Directory'],
      ],
      /^layer\.tar: entry "a\/" would turn "a", a symlink earlier in the same archive, into a directory; refused$/,
    ],
    [
      'a device named like a directory',
      [['a/.', 'CharacterDevice']],
      /entry "a\/\." ends in "\/" or "\/\."/,
    ],
    ['a file named like a directory', [['a/', 'File']], /entry "a\/" ends in/],
    [
      'an entry below a file',
      [
        ['b', 'File'],
        ['b/c', 'File'],
      ],
      /entry "b\/c" lies under "b", which an earlier entry made a file/,
    ],
    [
      'a hard link to a file replaced by a directory',
      [
        ['b', 'File'],
        ['b', 'Directory'],
        ['l', 'Link', 'b'],
      ],
      /not an earlier file/,
    ],
    ['a whiteout of ".."', [['a/.wh...', 'File']], /entry "a\/\.wh\.\.\." is a whiteout of "\.\."/],
    ['a whiteout of "."', [['a/.wh..', 'File']], /entry "a\/\.wh\.\." is a whiteout of "\."/],
  ])('refuses %s, naming the entry', (_name, entries, message) => {
    expect(() => validate(entries)).toThrow(
      expect.objectContaining({
        code: 'PILOT_LAYER_UNSAFE',
        message: expect.stringMatching(message),
      }),
    );
  });

  it.each<[string, Entry[]]>([
    [
      'a file over an empty directory',
      [
        ['b', 'Directory'],
        ['b', 'File'],
      ],
    ],
    [
      'a directory over a file, then entries in it',
      [
        ['b', 'File'],
        ['b', 'Directory'],
        ['b/c', 'File'],
      ],
    ],
    [
      'a directory named again',
      [
        ['b/c', 'File'],
        ['b', 'Directory'],
        ['b/d', 'File'],
      ],
    ],
    [
      'a file named again',
      [
        ['b', 'File'],
        ['b', 'File'],
        ['l', 'Link', 'b'],
      ],
    ],
  ])('accepts %s', (_name, entries) => {
    expect(() => validate(entries)).not.toThrow();
  });
});

describe('EntryValidator messages', () => {
  it('quote entry names and link targets as short escaped excerpts', () => {
    const name = `\x1b[2J${'n'.repeat(3000)}/../x`;
    expect(() => validate([[name, 'File']])).toThrow(
      /^layer\.tar: entry "\\x1b\[2Jn{60,80}…" has a "\.\." component; refused$/,
    );
    expect(() => validate([['h', 'Link', `/\u202e${'t'.repeat(3000)}`]])).toThrow(
      /entry "h" is a hard link to the absolute path "\/\\u202et{60,80}…"; refused$/,
    );
  });
});

describe('EntryValidator hints', () => {
  /** The refusal of `entries`, which must be one. */
  const refusal = (entries: Entry[]) => {
    try {
      validate(entries);
    } catch (error) {
      return error as { message: string; hint: string };
    }
    throw new Error('expected a refusal');
  };

  it('a forward hard link is no escape: it must follow its file', () => {
    const forward = refusal([
      ['h', 'Link', 'later'],
      ['later', 'File'],
    ]);
    expect(forward.message).toBe(
      'layer.tar: entry "h" is a hard link to "later", which is not an earlier file of the archive (a hard link must come after the file it links to, in the same layer); refused',
    );
    expect(forward.hint).toMatch(/each hard link follows its file/);
    expect(forward.hint).not.toMatch(/outside/);
  });

  it('a real escape says so', () => {
    expect(refusal([['../x', 'File']]).hint).toMatch(/could write outside its directory/);
  });

  it('a device node as non-root and an unknown entry type say what to do instead', () => {
    const device = refusal([['dev/sda', 'BlockDevice']]);
    expect(device.hint).toBe('load this image as root, or rebuild it without device nodes');
    const odd = refusal([['x', 'GNUDumpDir']]);
    expect(odd.message).toMatch(/has the unsupported tar entry type "GNUDumpDir"; refused$/);
    expect(odd.hint).not.toMatch(/outside/);
  });
});

describe('EntryValidator: path lengths', () => {
  const deep = (bytes: number) => `${'d/'.repeat(Math.floor((bytes - 1) / 2))}f`.padEnd(bytes, 'f');

  it('takes a path of 4,094 bytes, refuses one of 4,095 and more by its length', () => {
    expect(deep(4094)).toHaveLength(4094);
    expect(() => validate([[deep(4094), 'File']])).not.toThrow();
    expect(() => validate([[deep(5000), 'File']])).toThrow(
      /^layer\.tar: entry "d\/d\/.*…" has a path of 5000 bytes; the most a Linux path allows is 4094; refused$/,
    );
    expect(() => validate([[`./${deep(4095)}`, 'File']])).toThrow(/a path of 4095 bytes/);
  });

  it('refuses a name longer than 255 bytes, and a symlink target longer than 4,095', () => {
    expect(() => validate([[`a/${'n'.repeat(255)}`, 'File']])).not.toThrow();
    expect(() => validate([[`a/${'é'.repeat(128)}`, 'File']])).toThrow(
      /has a name of 256 bytes; the most a Linux path allows is 255/,
    );
    expect(() => validate([['l', 'SymbolicLink', 'x'.repeat(4095)]])).not.toThrow();
    expect(() => validate([['l', 'SymbolicLink', 'x'.repeat(4096)]])).toThrow(
      /entry "l" has a link target of 4096 bytes; the most a Linux path allows is 4095/,
    );
  });
});

describe('EntryValidator: linear time', () => {
  it('checks deep paths in time linear in their length, with a symlink in the archive', async () => {
    await expectLinear((depth) => {
      const dir = 'x/'.repeat(depth);
      const entries: Entry[] = [['s', 'SymbolicLink', 'x']];
      for (let i = 0; i < 40; i++) entries.push([`${dir}f${i}`, 'File']);
      return () => validate(entries);
    }, 200);
  });
});
