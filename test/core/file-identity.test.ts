import { lstatSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileIdentity, identityOfStats } from '../../src/core/file-identity.js';
import { stampOf } from '../../src/runtime/fast-plan.js';

describe('fileIdentity', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-identity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'file');
  writeFileSync(file, 'abc');
  symlinkSync('file', join(dir, 'link'));

  it('is dev:ino:size:mtime_ns, the text the stub stamps', () => {
    const s = lstatSync(file, { bigint: true });
    expect(fileIdentity(file)).toBe(`${s.dev}:${s.ino}:3:${s.mtimeNs}`);
    expect(stampOf(file)).toBe(fileIdentity(file));
    expect(identityOfStats(s)).toBe(fileIdentity(file));
  });

  it('tells a symlink from what it points to', () => {
    expect(fileIdentity(join(dir, 'link'))).not.toBe(fileIdentity(file));
    expect(fileIdentity(join(dir, 'link'), { follow: true })).toBe(fileIdentity(file));
  });

  it('changes with an mtime that moves by less than a millisecond', () => {
    const second = Math.floor(Date.now() / 1000);
    utimesSync(file, second, second + 0.0001);
    const before = fileIdentity(file);
    const msBefore = Math.floor(lstatSync(file).mtimeMs);
    utimesSync(file, second, second + 0.0004);
    expect(Math.floor(lstatSync(file).mtimeMs)).toBe(msBefore);
    expect(fileIdentity(file)).not.toBe(before);
  });

  it('is - for a missing file or one below a missing directory', () => {
    expect(fileIdentity(join(dir, 'nope'))).toBe('-');
    expect(fileIdentity(join(dir, 'nope/deeper'), { follow: true })).toBe('-');
    expect(identityOfStats(undefined)).toBe('-');
  });
});
