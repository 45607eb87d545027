import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commitTree, symlinkAtomic, writeFileAtomic } from '../../src/core/atomic-fs.js';
import { fsyncDir, syncTree } from '../../src/core/durable.js';
import { PilotError } from '../../src/core/errors.js';
import { listDir } from '../../src/core/list-dir.js';

describe('durable commits', () => {
  let dir: string;
  const path = process.env.PATH;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-durable-'));
  });
  afterEach(() => {
    process.env.PATH = path;
    rmSync(dir, { recursive: true, force: true });
  });

  it('fsyncs a directory, and names a missing one', () => {
    expect(() => fsyncDir(dir)).not.toThrow();
    expect(() => fsyncDir(join(dir, 'gone'))).toThrow(/ENOENT.*gone/);
  });

  it('syncs a tree with one syncfs, and names a path sync cannot open', () => {
    expect(() => syncTree(dir)).not.toThrow();
    const error = (() => {
      try {
        syncTree(join(dir, 'gone'));
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(PilotError);
    expect((error as PilotError).message).toMatch(
      new RegExp(`cannot write ${dir}/gone to disk: .*No such file or directory`),
    );
  });

  it('says what to install when sync cannot run', () => {
    process.env.PATH = join(dir, 'empty');
    expect(() => syncTree(dir)).toThrow(
      `cannot write ${dir} to disk: sync is not installed (apt-get install coreutils)`,
    );
  });

  it('publishes files, links and trees, leaving no temp entry', () => {
    writeFileAtomic(join(dir, 'f'), 'data\n');
    symlinkAtomic('f', join(dir, 'l'));
    const staged = join(dir, '.pilot-tree-1-1-aaaaaaaa');
    mkdirSync(staged);
    writeFileSync(join(staged, 'x'), 'x');
    commitTree(staged, join(dir, 't'));
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('data\n');
    expect(readlinkSync(join(dir, 'l'))).toBe('f');
    expect(readFileSync(join(dir, 't/x'), 'utf8')).toBe('x');
    expect(listDir(dir).sort()).toEqual(['f', 'l', 't']);
  });

  it('a tree that lost the race to another writer is discarded, the error kept', () => {
    mkdirSync(join(dir, 't'));
    writeFileSync(join(dir, 't/other'), '');
    const staged = join(dir, '.pilot-tree-1-1-bbbbbbbb');
    mkdirSync(staged);
    writeFileSync(join(staged, 'mine'), '');
    expect(() => commitTree(staged, join(dir, 't'))).toThrow(/ENOTEMPTY|EEXIST/);
    expect(listDir(dir)).toEqual(['t']);
    expect(listDir(join(dir, 't'))).toEqual(['other']);
  });
});
