import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import { readFlakeFile } from '../../src/core/flake-read.js';
import { MAX_FLAKE_BYTES } from '../../src/core/yaml-limits.js';

/** The PilotError `fn` throws (fails the test if it throws none, or another kind). */
function refusal(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error('expected a refusal');
}

describe('readFlakeFile', () => {
  let dir = '';
  let owner = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-flake-read-'));
    owner = statSync(dir).uid;
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const at = (name: string) => join(dir, name);

  it('reads a regular file', () => {
    writeFileSync(at('plain.yaml'), 'container:\n  name: x\n');
    expect(readFlakeFile(at('plain.yaml'), owner)).toEqual({ text: 'container:\n  name: x\n' });
  });

  it('refuses bytes that are not UTF-8, naming the line (they would read as U+FFFD)', () => {
    const bytes = Buffer.concat([
      Buffer.from('container:\n  name: x\n  base_container: "caf'),
      Buffer.from([0xe9, 0x22, 0x0a]),
    ]);
    writeFileSync(at('latin1.yaml'), bytes);
    const error = refusal(() => readFlakeFile(at('latin1.yaml'), owner));
    expect(error.message).toBe(`${at('latin1.yaml')}:3: is not UTF-8 text`);
    expect(error.hint).toMatch(/UTF-8/);
    writeFileSync(at('utf8.yaml'), 'container:\n  name: café\n');
    expect(readFlakeFile(at('utf8.yaml'), owner).text).toBe('container:\n  name: café\n');
  });

  it('passes a missing file on as ENOENT (the caller says what that means)', () => {
    expect(() => readFlakeFile(at('missing.yaml'), owner)).toThrow(
      expect.objectContaining({ code: 'ENOENT' }),
    );
  });

  it('refuses a FIFO at once, without waiting for a writer', () => {
    expect(spawnSync('mkfifo', [at('fifo.yaml')]).status).toBe(0);
    const started = Date.now();
    const error = refusal(() => readFlakeFile(at('fifo.yaml'), owner));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.message).toBe(`${at('fifo.yaml')}: is a FIFO (named pipe), not a regular file`);
    expect(error.hint).toMatch(/regular YAML file/);
  });

  it('refuses a directory and a link to /dev/zero by what they are', () => {
    mkdirSync(at('dir.yaml'));
    expect(refusal(() => readFlakeFile(at('dir.yaml'), owner)).message).toBe(
      `${at('dir.yaml')}: is a directory, not a regular file`,
    );
    symlinkSync('/dev/zero', at('zero.yaml'));
    expect(refusal(() => readFlakeFile(at('zero.yaml'), owner)).message).toBe(
      `${at('zero.yaml')}: is a symbolic link to /dev/zero, which is a character device`,
    );
  });

  it('refuses a file larger than the limit without reading it all', () => {
    writeFileSync(at('big.yaml'), 'a'.repeat(MAX_FLAKE_BYTES + 1));
    const error = refusal(() => readFlakeFile(at('big.yaml'), owner));
    expect(error.message).toBe(
      `${at('big.yaml')}: is larger than ${MAX_FLAKE_BYTES} bytes (${MAX_FLAKE_BYTES + 1}); a flake file has a few hundred`,
    );
    writeFileSync(at('limit.yaml'), 'a'.repeat(MAX_FLAKE_BYTES));
    expect(readFlakeFile(at('limit.yaml'), owner).text).toHaveLength(MAX_FLAKE_BYTES);
  });

  it("follows a link to a file of the flakes dir's owner that only it may write, and says where it led", () => {
    mkdirSync(at('elsewhere'));
    writeFileSync(at('elsewhere/app.yaml'), 'container:\n  name: linked\n', { mode: 0o644 });
    symlinkSync(at('elsewhere/app.yaml'), at('linked.yaml'));
    expect(readFlakeFile(at('linked.yaml'), owner)).toEqual({
      text: 'container:\n  name: linked\n',
      target: at('elsewhere/app.yaml'),
    });
  });

  it("refuses a link to another owner's file or one others may write, never showing its content", () => {
    writeFileSync(at('secret.yaml'), 'SECRET-CONTENT\n', { mode: 0o600 });
    symlinkSync(at('secret.yaml'), at('theirs.yaml'));
    const theirs = refusal(() => readFlakeFile(at('theirs.yaml'), owner + 1));
    expect(theirs.message).toBe(
      `${at('theirs.yaml')}: is a symbolic link to ${at('secret.yaml')}, which is owned by uid ${owner}; a linked flake must be a file of uid ${owner + 1} (the owner of the flakes directory) that only it may write`,
    );
    expect(theirs.hint).toMatch(/copy the file into the flakes directory/);
    writeFileSync(at('shared.yml'), 'container:\n  name: shared\n');
    chmodSync(at('shared.yml'), 0o664);
    symlinkSync(at('shared.yml'), at('shared.yaml'));
    expect(refusal(() => readFlakeFile(at('shared.yaml'), owner)).message).toMatch(
      /which is writable by others than its owner/,
    );
    // An unknown owner follows no link at all.
    expect(refusal(() => readFlakeFile(at('linked.yaml'), undefined)).message).toMatch(
      /owned by uid \d+; a linked flake must be a file of uid \?/,
    );
  });

  it('refuses a link to a file that is no flake file (/etc/passwd), never showing its content', () => {
    symlinkSync('/etc/passwd', at('passwd.yaml'));
    const error = refusal(() => readFlakeFile(at('passwd.yaml'), 0));
    expect(error.message).toBe(
      `${at('passwd.yaml')}: is a symbolic link to /etc/passwd, which is not a .yaml or .yml file`,
    );
    expect(`${error.message}${error.hint}`).not.toContain('root:');
  });

  it('names a dangling link and a loop of links', () => {
    symlinkSync(at('nowhere'), at('dangling.yaml'));
    expect(refusal(() => readFlakeFile(at('dangling.yaml'), owner)).message).toBe(
      `${at('dangling.yaml')}: is a symbolic link to ${at('nowhere')}, which does not exist (a dangling link)`,
    );
    symlinkSync('loop.yaml', at('loop.yaml'));
    expect(refusal(() => readFlakeFile(at('loop.yaml'), owner)).message).toBe(
      `${at('loop.yaml')}: is a loop of symbolic links`,
    );
  });
});
