/**
 * What root creates has the modes pilot means, whatever its umask (077 on a hardened
 * host): each writer runs here under umask 077. An unprivileged user's own files keep
 * its umask's narrowing, never wider than pilot means.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from '../../src/core/atomic-fs.js';
import { claimLock } from '../../src/core/lock.js';
import { makeDirs, writeFileMode } from '../../src/core/modes.js';
import { bundleSnippet, isRoot, sourceFile } from '../store/helpers.js';

let work: string;
let saved: number;

const modeOf = (path: string) => statSync(path).mode & 0o7777;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'pilot-modes-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeEach(() => {
  saved = process.umask(0o077);
});
afterEach(() => {
  process.umask(saved);
});

describe.skipIf(!isRoot)('root under umask 077', () => {
  it('makeDirs gives every directory it creates 0755, and the last one its mode', () => {
    makeDirs(join(work, 'a/b/c'));
    for (const dir of ['a', 'a/b', 'a/b/c']) expect(modeOf(join(work, dir)), dir).toBe(0o755);
    makeDirs(join(work, 'p/q/tmp'), 0o700);
    expect(modeOf(join(work, 'p'))).toBe(0o755);
    expect(modeOf(join(work, 'p/q'))).toBe(0o755);
    expect(modeOf(join(work, 'p/q/tmp'))).toBe(0o700);
  });

  it('makeDirs leaves directories that exist as their owner made them', () => {
    mkdirSync(join(work, 'mine'), { mode: 0o750 });
    makeDirs(join(work, 'mine/new'));
    expect(modeOf(join(work, 'mine'))).toBe(0o700); // 0750 under umask 077: untouched
    expect(modeOf(join(work, 'mine/new'))).toBe(0o755);
  });

  it('writeFileAtomic and writeJsonAtomic write 0644 files (or the mode asked) in 0755 dirs', () => {
    writeFileAtomic(join(work, 'store/refs/name'), 'sha256:x\n');
    writeJsonAtomic(join(work, 'store/images/x.json'), { id: 'x' });
    writeFileAtomic(join(work, 'store/secret'), 'x', 0o600);
    expect(modeOf(join(work, 'store'))).toBe(0o755);
    expect(modeOf(join(work, 'store/refs'))).toBe(0o755);
    expect(modeOf(join(work, 'store/refs/name'))).toBe(0o644);
    expect(modeOf(join(work, 'store/images/x.json'))).toBe(0o644);
    expect(modeOf(join(work, 'store/secret'))).toBe(0o600);
  });

  it("a first register's claim makes the flakes dir 0755", () => {
    const flakes = join(work, 'usr/share/flakes');
    claimLock(join(flakes, '.app.lock'), 'registration of app').release();
    expect(modeOf(join(work, 'usr'))).toBe(0o755);
    expect(modeOf(flakes)).toBe(0o755);
  });

  it('writeFileMode writes 0644 (a call record in a kept instance)', () => {
    writeFileMode(join(work, 'pid'), '123\n');
    expect(modeOf(join(work, 'pid'))).toBe(0o644);
  });
});

describe.skipIf(!isRoot)('an unprivileged user', () => {
  /** Runs makeDirs and writeFileAtomic as nobody under `mask`; the modes they left. */
  function asNobody(mask: string): Record<string, string> {
    chmodSync(work, 0o755);
    const dir = join(work, `nobody-${mask}`);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const script = join(work, `nobody-${mask}.mjs`);
    bundleSnippet(
      `import { writeFileAtomic } from ${sourceFile('core/atomic-fs.ts')};
      import { makeDirs } from ${sourceFile('core/modes.ts')};
      const dir = process.argv[2];
      makeDirs(dir + '/store/tmp', 0o700);
      writeFileAtomic(dir + '/store/refs/name', 'x');`,
      script,
    );
    chmodSync(script, 0o644);
    const r = spawnSync(
      'sh',
      ['-c', `umask ${mask}; exec "$0" "$@"`, process.execPath, script, dir],
      {
        uid: 65534,
        gid: 65534,
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    const mode = (rel: string) => modeOf(join(dir, rel)).toString(8);
    return Object.fromEntries(
      ['store', 'store/tmp', 'store/refs', 'store/refs/name'].map((rel) => [rel, mode(rel)]),
    );
  }

  it("keeps its umask's narrowing for its own files (077: private)", () => {
    expect(asNobody('077')).toEqual({
      store: '700',
      'store/tmp': '700',
      'store/refs': '700',
      'store/refs/name': '600',
    });
  });

  it('is never given wider modes than pilot means (umask 000)', () => {
    expect(asNobody('000')).toEqual({
      store: '755',
      'store/tmp': '700',
      'store/refs': '755',
      'store/refs/name': '644',
    });
  });
});
