/**
 * A root pilot cannot use: `--root FILE` (or PILOT_ROOT=FILE), and a root the caller may
 * not enter. Every command says so in one message naming the path, never with an
 * internal error or a stack; doctor only reports it.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot } from '../store/helpers.js';
import { type Installed, installPilot, type Result, run, writeTestArchive } from './helpers.js';

let installed: Installed;
let work: string;
let archive: string;

beforeAll(() => {
  installed = installPilot();
  // The unprivileged caller must reach the installed pilot and the archive.
  chmodSync(installed.destdir, 0o755);
  work = mkdtempSync(join(tmpdir(), 'pilot-root-errors-'));
  chmodSync(work, 0o755);
  archive = writeTestArchive(work, 'hello', 'test/hello:1');
  chmodSync(archive, 0o644);
}, 120_000);

afterAll(() => {
  installed?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Stands for the test archive, which exists only once beforeAll has run. */
const ARCHIVE = '<archive>';

/** Every command that works on a root, with arguments that would reach it. */
const COMMANDS = (): string[][] => [
  ['load', ARCHIVE],
  ['images'],
  ['rmi', 'test/hello:1'],
  ['gc'],
  ['register', '--container', 'test/hello:1', '--app', '/usr/bin/hello'],
  ['remove', '--app', '/usr/bin/hello'],
  ['list'],
  ['show', 'hello'],
  ['check', 'hello'],
  ['ps'],
  ['stop', 'hello'],
];

function withArchive(args: string[]): string[] {
  return args.map((arg) => (arg === ARCHIVE ? archive : arg));
}

/** One message (and its hint), its code, no stack, no internal error. */
function expectOneMessage(r: Result, mentions: string): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).not.toContain('internal error');
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trim().split('\n').length).toBeLessThanOrEqual(3);
  expect(r.stderr).toMatch(/\n {2}code: PILOT_[A-Z_]+\n$/);
  expect(r.stderr).toMatch(/^pilot: /);
  expect(r.stderr).toContain(mentions);
}

describe('--root FILE', () => {
  let file: string;
  beforeAll(() => {
    file = join(work, 'not-a-dir');
    writeFileSync(file, 'just a file\n');
  });

  for (const args of COMMANDS()) {
    it(`pilot ${args[0]} says the root is not a directory`, () => {
      const r = run(installed.bin, ['--root', file, ...withArchive(args)]);
      expectOneMessage(r, `the root ${file} is not a directory`);
      expect(readFileSync(file, 'utf8')).toBe('just a file\n');
    });
  }

  it('PILOT_ROOT=FILE is refused the same way', () => {
    const r = run(installed.bin, ['list'], { env: { PILOT_ROOT: file } });
    expectOneMessage(r, `the root ${file} is not a directory`);
  });

  it('doctor only reports it, and changes nothing', () => {
    const r = run(installed.bin, ['--root', file, 'doctor', '--json']);
    expect(r.stderr).toBe('');
    const checks = JSON.parse(r.stdout) as { check: string; status: string; detail: string }[];
    const byName = new Map(checks.map((c) => [c.check, c]));
    expect(byName.get('store')).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining(`${file} is not a directory`),
    });
    expect(byName.get('cached plans')?.status).toBe('warn');
    expect(readFileSync(file, 'utf8')).toBe('just a file\n');
  });
});

describe('a file where the store directory belongs', () => {
  let root: string;
  beforeAll(() => {
    root = join(work, 'store-is-a-file');
    mkdirSync(join(root, 'var/lib'), { recursive: true });
    writeFileSync(join(root, 'var/lib/pilot'), 'not a store\n');
  });

  for (const args of COMMANDS()) {
    it(`pilot ${args[0]} names the file in the way`, () => {
      const r = run(installed.bin, ['--root', root, ...withArchive(args)]);
      expectOneMessage(r, `${join(root, 'var/lib/pilot')} is not a directory, but pilot needs`);
    });
  }
});

describe.skipIf(!isRoot)('a root the caller may not enter (0700, root-owned)', () => {
  let root: string;
  beforeAll(() => {
    root = join(work, 'closed');
    mkdirSync(root, { mode: 0o700 });
    chmodSync(root, 0o700);
    const loaded = run(installed.bin, ['--root', root, 'load', archive, '--quiet']);
    expect(loaded.code, loaded.stderr).toBe(0);
  });

  const asNobody = (args: string[]): Result => {
    const r = spawnSync(installed.bin, ['--root', root, ...args], {
      cwd: '/',
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 60_000,
      env: { PATH: process.env.PATH, HOME: '/nonexistent' },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  for (const args of COMMANDS()) {
    it(`pilot ${args[0]} as uid 65534 says what it may not read`, () => {
      const r = asNobody(withArchive(args));
      expectOneMessage(r, root);
      if (!['show', 'check'].includes(args[0]!)) {
        expect(r.stderr).toContain(`may not enter ${root}`);
      }
    });
  }

  it('doctor as uid 65534 reports, exit 0', () => {
    const r = asNobody(['doctor']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/cached plans\s+WARN\s+cannot read the cached plans: .*may not enter/);
  });
});
