import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { overlayPaths, storeEntryOf, storeUsage } from '../../src/runtime/in-use.js';

const hex = 'a'.repeat(64);
const key = 'b'.repeat(64);

describe('overlayPaths', () => {
  it.each([
    [
      // What the exec helper's one-shot mount looks like on this kernel (6.18).
      '67 63 0:40 / / rw,relatime - overlay pilot rw,lowerdir=host/k:l/f6fb7112ee:l/0b72e07f8f,upperdir=/r/run/pilot/mnt/upper,workdir=/r/run/pilot/mnt/work,uuid=on',
      [
        'pilot',
        'host/k',
        'l/f6fb7112ee',
        'l/0b72e07f8f',
        '/r/run/pilot/mnt/upper',
        '/r/run/pilot/mnt/work',
      ],
    ],
    [
      '1 2 0:5 / /m rw - overlay pilot-kept ro,lowerdir+=/s/l/x,lowerdir+=/s/l/y,datadir+=/d,userxattr',
      ['pilot-kept', '/s/l/x', '/s/l/y', '/d'],
    ],
    ['1 2 0:5 / /m rw - overlay o rw,lowerdir=/a\\072b:/c\\054d::/e', ['o', '/a:b', '/c,d', '/e']],
    ['1 2 0:5 / /m\\040x rw - overlay o rw,lowerdir=/a\\040b', ['o', '/a b']],
    ['22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw', []],
  ])('%s', (line, paths) => {
    expect(overlayPaths(line)).toEqual(paths);
  });
});

describe('storeEntryOf', () => {
  const store = mkdtempSync(join(tmpdir(), 'pilot-inuse-'));
  mkdirSync(join(store, 'l'));
  symlinkSync(`../layers/${hex}`, join(store, 'l/0123456789'));
  symlinkSync('/etc', join(store, 'l/evil'));
  afterAll(() => rmSync(store, { recursive: true, force: true }));

  it.each([
    [`host/${key}`, `host/${key}`],
    [`${'STORE'}/includes/${hex}/etc/x`, `includes/${hex}`],
    [`layers/${hex}`, `layers/${hex}`],
    ['l/0123456789', `layers/${hex}`],
    ['./l/0123456789', `layers/${hex}`],
    ['l/evil', undefined],
    ['l/missing', undefined],
    ['/elsewhere/host/x', undefined],
    ['pilot', undefined],
    ['host/..', undefined],
    ['STORE/instances/x/upper', undefined],
  ])('%s → %s', (path, entry) => {
    expect(storeEntryOf(store, path.replace('STORE', store))).toBe(entry);
  });

  it('sees a process working inside the store', () => {
    mkdirSync(join(store, 'host', key), { recursive: true });
    const cwd = process.cwd();
    process.chdir(join(store, 'host', key));
    try {
      expect(storeUsage(store).entries).toContain(`host/${key}`);
    } finally {
      process.chdir(cwd);
    }
  });
});
