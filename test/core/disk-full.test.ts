/**
 * A full disk as the error printers say it (core/system-error.ts): the path written,
 * the file system it is on and what is left there, one code, no stack. /dev/full gives
 * a real ENOSPC from writeSync, which, like every write and fsync, names no path.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import { diskFull, diskFullIn, explainSystemError, withPath } from '../../src/core/system-error.js';

function writeToFullDevice(): unknown {
  const fd = openSync('/dev/full', 'w');
  try {
    writeSync(fd, 'x');
  } catch (error) {
    return error;
  } finally {
    closeSync(fd);
  }
  throw new Error('/dev/full took a write');
}

describe('a full disk', () => {
  it('a write error without a path stays a bug until its writer says where', () => {
    const error = writeToFullDevice();
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(explainSystemError(error)).toBe(error);
  });

  it('with the path: PILOT_DISK_FULL naming the path, its file system and the bytes free', () => {
    const path = '/tmp/pilot-store/var/lib/pilot/images/x.json';
    const explained = explainSystemError(withPath(writeToFullDevice(), path));
    expect(explained).toBeInstanceOf(PilotError);
    expect(explained).toMatchObject({ code: 'PILOT_DISK_FULL', exitCode: 1 });
    expect((explained as PilotError).message).toMatch(
      /^\/tmp\/pilot-store\/var\/lib\/pilot\/images\/x\.json: no space left on the device \(file system \/[^,]*, \d+ bytes free\)$/,
    );
    expect((explained as PilotError).hint).toMatch(/free some space .*pilot gc/);
  });

  it('withPath keeps a path the error has, and leaves errors without an errno alone', () => {
    const named = Object.assign(new Error('ENOSPC'), { code: 'ENOSPC', path: '/a' });
    expect((withPath(named, '/b') as { path: string }).path).toBe('/a');
    const bug = new TypeError('x');
    expect('path' in (withPath(bug, '/b') as object)).toBe(false);
  });

  it('says a quota the same way', () => {
    const error = Object.assign(new Error('EDQUOT'), { code: 'EDQUOT', path: '/srv/x' });
    expect((explainSystemError(error) as PilotError).message).toMatch(
      /^\/srv\/x: disk quota exceeded \(/,
    );
  });

  it('puts what was being done first', () => {
    const error = diskFull('/srv/store/tmp', { doing: 'extracting layer 1/1 of a.tar' });
    expect(error.message).toMatch(/^extracting layer 1\/1 of a\.tar: \/srv\/store\/tmp: no space/);
  });

  it.each([
    ['tar: usr/bin/x: Cannot write: No space left on device', 'ENOSPC'],
    ["cp: error writing '/s/tmp/image.tar': No space left on device", 'ENOSPC'],
    ['Error: writing blob: storing blob to file: write /x: no space left on device', 'ENOSPC'],
    ['tar: x: Cannot write: Disk quota exceeded', 'EDQUOT'],
    ['tar: data/3: Wrote only 1536 of 10240 bytes', 'ENOSPC'],
    ['tar: x: Cannot open: Permission denied', undefined],
  ])('reads a tool\'s "%s" as %s', (text, code) => {
    expect(diskFullIn(text)).toBe(code);
  });
});
