import { describe, expect, it } from 'vitest';
import { mountPoints, parseMountinfo, parseMountLine } from '../../src/core/mountinfo.js';

describe('parseMountLine', () => {
  it.each([
    [
      '36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue',
      {
        mountPoint: '/mnt2',
        fstype: 'ext3',
        source: '/dev/root',
        superOptions: 'rw,errors=continue',
      },
    ],
    [
      // no optional fields, escapes in the mount point and the source
      '67 63 0:40 / /a\\040b\\134c rw - tmpfs my\\040tmp rw,size=10k',
      { mountPoint: '/a b\\c', fstype: 'tmpfs', source: 'my tmp', superOptions: 'rw,size=10k' },
    ],
    [
      // several optional fields; the options stay escaped (overlay splits them first)
      '1 2 0:5 / /m rw shared:3 master:4 propagate_from:5 - overlay o rw,lowerdir=/a\\072b',
      { mountPoint: '/m', fstype: 'overlay', source: 'o', superOptions: 'rw,lowerdir=/a\\072b' },
    ],
  ])('%s', (line, entry) => {
    expect(parseMountLine(line)).toEqual(entry);
  });

  it.each([[''], ['garbage'], ['1 2 0:5 / /m rw no-separator']])('%j is no entry', (line) => {
    expect(parseMountLine(line)).toBeUndefined();
  });

  it('reads a whole table, skipping the trailing empty line', () => {
    const text = '1 0 0:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:2 / /proc rw - proc proc rw\n';
    expect(parseMountinfo(text).map((e) => e.mountPoint)).toEqual(['/', '/proc']);
  });

  it("finds this process's root among its mount points", () => {
    expect(mountPoints().has('/')).toBe(true);
  });
});
