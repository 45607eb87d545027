import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/core/modes.js';
import { explainSystemError } from '../../src/core/system-error.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-system-error-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** What the error printers make of `act`'s error. */
function explained(act: () => void): { code?: string; message: string } {
  try {
    act();
  } catch (error) {
    return explainSystemError(error) as { code?: string; message: string };
  }
  throw new Error('expected an error');
}

describe('explainSystemError: a file where pilot needs a directory', () => {
  it('names the file, whether it is the directory itself (EEXIST) or above it (ENOTDIR)', () => {
    const store = join(dir, 'store');
    mkdirSync(store);
    writeFileSync(join(store, 'refs'), 'x');
    expect(explained(() => makeDirs(join(store, 'refs')))).toMatchObject({
      code: 'PILOT_PATH_IN_WAY',
      message: `${join(store, 'refs')} is not a directory, but pilot needs a directory there`,
    });
    expect(explained(() => makeDirs(join(store, 'refs/x')))).toMatchObject({
      code: 'PILOT_PATH_IN_WAY',
      message: `${join(store, 'refs')} is not a directory, but pilot needs ${join(store, 'refs/x')} below it`,
    });
  });

  it('leaves an EEXIST that is no mkdir as it is', () => {
    const error = Object.assign(new Error('EEXIST'), {
      code: 'EEXIST',
      syscall: 'link',
      path: dir,
    });
    expect(explainSystemError(error)).toBe(error);
  });
});
