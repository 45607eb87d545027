/**
 * pilot's own expansion of a quoted pattern: what sh would have given, sorted, with
 * dot files hidden unless the pattern spells the dot.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentRegExp, expandGlob, hasGlobChars } from '../../src/core/glob.js';

describe('hasGlobChars', () => {
  it.each([
    ['images/*.tar', true],
    ['a?.tar', true],
    ['[ab].tar', true],
    ['plain.tar', false],
    ['escaped\\*.tar', false],
    ['a\\[b].tar', false],
    ['', false],
  ])('%j → %s', (text, expected) => {
    expect(hasGlobChars(text)).toBe(expected);
  });
});

describe('componentRegExp: one component, as sh matches it', () => {
  it.each([
    ['*.tar.xz', 'base-1.2.tar.xz', true],
    ['*.tar.xz', 'base.tar.gz', false],
    ['*', '.hidden', false],
    ['.*', '.hidden', true],
    ['?.tar', 'a.tar', true],
    ['?.tar', 'ab.tar', false],
    ['[ab].tar', 'b.tar', true],
    ['[!ab].tar', 'b.tar', false],
    ['[^ab].tar', 'c.tar', true],
    ['[a-c]x', 'bx', true],
    ['[a-c]x', 'dx', false],
    ['[]a]x', ']x', true],
    ['[a-]x', '-x', true],
    ['a[', 'a[', true],
    ['a\\*', 'a*', true],
    ['a\\*', 'ab', false],
    ['a.b', 'axb', false],
    ['(x)+{y}|$', '(x)+{y}|$', true],
  ])('%j on %j → %s', (pattern, name, expected) => {
    expect(componentRegExp(pattern).test(name)).toBe(expected);
  });
});

describe('expandGlob', () => {
  let dir: string;
  const cwd = process.cwd();

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-glob-'));
    for (const name of ['b-2.tar.xz', 'a-1.tar.xz', 'c.tar.zst', '.hidden.tar.xz', 'x*y.tar']) {
      writeFileSync(join(dir, name), '');
    }
    mkdirSync(join(dir, 'sub1/deep'), { recursive: true });
    mkdirSync(join(dir, 'sub2'));
    writeFileSync(join(dir, 'sub1/deep/one.tar'), '');
    writeFileSync(join(dir, 'sub2/two.tar'), '');
    writeFileSync(join(dir, 'sub3'), 'a file, not a directory');
    symlinkSync('sub2', join(dir, 'linked'));
  });
  afterAll(() => {
    process.chdir(cwd);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the matches sorted, absolute for an absolute pattern', () => {
    expect(expandGlob(`${dir}/*.tar.xz`)).toEqual([
      join(dir, 'a-1.tar.xz'),
      join(dir, 'b-2.tar.xz'),
    ]);
    expect(expandGlob(`${dir}/.*.xz`)).toEqual([join(dir, '.hidden.tar.xz')]);
  });

  it('matches relative to the current directory and gives relative paths', () => {
    process.chdir(dir);
    try {
      expect(expandGlob('*.tar.*')).toEqual(['a-1.tar.xz', 'b-2.tar.xz', 'c.tar.zst']);
      expect(expandGlob('./?-1.tar.xz')).toEqual(['a-1.tar.xz']);
    } finally {
      process.chdir(cwd);
    }
  });

  it('matches in middle components, descending only into directories (and links to them)', () => {
    expect(expandGlob(`${dir}/*/*.tar`)).toEqual([
      join(dir, 'linked/two.tar'),
      join(dir, 'sub2/two.tar'),
    ]);
    expect(expandGlob(`${dir}/sub*/deep/*.tar`)).toEqual([join(dir, 'sub1/deep/one.tar')]);
  });

  it('takes a quoted star literally, and gives nothing for a pattern that matches nothing', () => {
    expect(expandGlob(`${dir}/x\\*y.tar`)).toEqual([join(dir, 'x*y.tar')]);
    expect(expandGlob(`${dir}/*.tar.gz`)).toEqual([]);
    expect(expandGlob(`${dir}/missing/*.tar`)).toEqual([]);
  });
});
