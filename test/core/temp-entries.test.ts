import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/core/atomic-fs.js';
import { removeDeadClaim } from '../../src/core/lock.js';
import { withShortPath } from '../../src/core/long-path.js';
import {
  formatOwner,
  isOwnerAlive,
  parseOwner,
  processStartTime,
  selfOwner,
} from '../../src/core/owner.js';
import {
  sweepBeforeWrite,
  sweepDeadTemps,
  tempEntryOwner,
  tempEntryTag,
  tempName,
} from '../../src/core/temp-entries.js';
import { bundleSnippet, sourceFile } from '../store/helpers.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-temp-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let dirs = 0;
function freshDir(): string {
  const dir = join(work, `d${dirs++}`);
  mkdirSync(dir);
  return dir;
}

/** Root on a file system with the immutable attribute (ext4 here): chattr +i works. */
function canMakeImmutable(): boolean {
  if (process.getuid?.() !== 0) return false;
  const probe = join(work, 'probe');
  writeFileSync(probe, 'x');
  const ok = spawnSync('chattr', ['+i', probe]).status === 0;
  spawnSync('chattr', ['-i', probe]);
  rmSync(probe);
  return ok;
}

/** A pid that no process has (pid_max is at most 2^22). */
const DEAD_PID = 99_999_999;
const init = processStartTime(1)!;

describe('owners', () => {
  it('names this process by pid and start time, and reads a claim back', () => {
    const self = selfOwner();
    expect(self.pid).toBe(process.pid);
    expect(self.start).toMatch(/^\d+$/);
    expect(parseOwner(`${formatOwner()}\n`)).toEqual(self);
    expect(parseOwner('123\n')).toEqual({ pid: 123, start: '' });
    expect(parseOwner('')).toBeUndefined();
    expect(parseOwner('12 x')).toBeUndefined();
  });

  it('tells a live owner from a dead one and from a reused pid', () => {
    expect(isOwnerAlive(selfOwner())).toBe(true);
    expect(isOwnerAlive({ pid: 1, start: init })).toBe(true);
    expect(isOwnerAlive({ pid: 1, start: String(Number(init) + 1) })).toBe(false);
    expect(isOwnerAlive({ pid: process.pid, start: '1' })).toBe(false);
    expect(isOwnerAlive({ pid: DEAD_PID, start: '' })).toBe(false);
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(isOwnerAlive({ pid: child.pid!, start: '5' })).toBe(false);
    // Without a start time (an older claim) a live pid counts as alive.
    expect(isOwnerAlive({ pid: 1, start: '' })).toBe(true);
  });
});

describe('temp names', () => {
  it('say they are pilot temp entries, and whose', () => {
    const name = tempName('load');
    expect(name).toMatch(/^\.pilot-load-\d+-\d+-[0-9a-f]{8}$/);
    expect(tempEntryOwner(name)).toEqual(selfOwner());
    expect(tempEntryTag(name)).toBe('load');
    expect(tempName('load')).not.toBe(name);
    expect(() => tempName('Load-1')).toThrow();
  });

  it('are not taken for other names, and old names only where asked', () => {
    for (const name of ['hello', '.hello', '.pilot-x', '.pilot-load-1-2-xyz', 'hello.yaml'])
      expect(tempEntryOwner(name, 'tmp'), name).toBeUndefined();
    const old = { pid: 12, start: '' };
    for (const name of [
      '.abc.json.tmp-12-0a1b',
      '.trash-12-ab',
      '.app.lock.12.k3j2',
      '.app.lock.stale.12',
    ]) {
      expect(tempEntryOwner(name), name).toBeUndefined();
      expect(tempEntryOwner(name, 'own'), name).toEqual(old);
      expect(tempEntryOwner(name, 'tmp'), name).toEqual(old);
    }
    // Only the store's tmp/ holds nothing else: elsewhere an app or a ref may be named so.
    for (const name of ['load-12-abcdef', 'extract-12-00.input', 'load-12-abc.u0.plan']) {
      expect(tempEntryOwner(name, 'own'), name).toBeUndefined();
      expect(tempEntryOwner(name, 'tmp'), name).toEqual(old);
    }
  });
});

describe('sweepDeadTemps', () => {
  it('removes temp entries of dead writers only, never another name', () => {
    const dir = freshDir();
    const dead = `.pilot-tmp-${DEAD_PID}-7-0123abcd`;
    const reused = `.pilot-host-1-${Number(init) + 1}-0123abcd`;
    const live = `.pilot-tmp-1-${init}-0123abcd`;
    const mine = tempName('tmp');
    writeFileSync(join(dir, dead), 'x');
    mkdirSync(join(dir, reused, 'a/b'), { recursive: true });
    writeFileSync(join(dir, reused, 'a/b/file'), 'x');
    symlinkSync('nowhere', join(dir, live));
    writeFileSync(join(dir, mine), 'x');
    // Names that look like pilot's older temp names but stand in a shared directory.
    const others = ['hello', '.hello.tmp-99999999-ab', `.pilot-notes`, 'load-99999999-ab'];
    for (const name of others) writeFileSync(join(dir, name), 'x');

    expect(sweepDeadTemps(dir).sort()).toEqual([dead, reused].sort());
    expect(readdirSync(dir).sort()).toEqual([...others, live, mine].sort());
    expect(sweepDeadTemps(dir, { legacy: 'own' })).toEqual(['.hello.tmp-99999999-ab']);
    expect(sweepDeadTemps(dir, { legacy: 'tmp' })).toEqual(['load-99999999-ab']);
  });

  it("removes a dead writer's tree deeper than PATH_MAX", () => {
    const dir = freshDir();
    const dead = `.pilot-load-${DEAD_PID}-7-0123abcd`;
    let path = join(dir, dead);
    mkdirSync(path);
    for (let i = 0; i < 30; i++) {
      path = join(path, 'n'.repeat(200));
      withShortPath(path, (at) => mkdirSync(at));
    }
    expect(sweepDeadTemps(dir)).toEqual([dead]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(!canMakeImmutable())(
    'reports a leftover it cannot remove, and does not count it removed',
    () => {
      const dir = freshDir();
      const dead = `.pilot-load-${DEAD_PID}-7-0123abcd`;
      mkdirSync(join(dir, dead));
      const stuck = join(dir, dead, 'stuck');
      writeFileSync(stuck, 'x');
      spawnSync('chattr', ['+i', stuck]);
      const failures: string[] = [];
      try {
        expect(
          sweepDeadTemps(dir, { onFailure: (path, error) => failures.push(`${path} ${error}`) }),
        ).toEqual([]);
        expect(failures).toEqual([expect.stringMatching(/\.pilot-trash-.* Error: EPERM/)]);
      } finally {
        const [moved] = readdirSync(dir);
        spawnSync('chattr', ['-i', join(dir, moved!, 'stuck')]);
      }
    },
  );

  it('sweeps a directory once per process before a write', () => {
    const dir = freshDir();
    const dead = () => join(dir, `.pilot-tmp-${DEAD_PID}-7-0123abc${dirs}`);
    writeFileSync(dead(), 'x');
    sweepBeforeWrite(dir);
    expect(readdirSync(dir)).toEqual([]);
    writeFileSync(dead(), 'x');
    sweepBeforeWrite(dir);
    expect(readdirSync(dir)).toHaveLength(1);
  });
});

describe('writeFileAtomic killed at its commit point', () => {
  it('leaves only a dead temp entry that readers skip and the next write removes', () => {
    const dir = freshDir();
    const script = join(work, 'write.mjs');
    bundleSnippet(
      `import { writeFileAtomic } from ${sourceFile('core/atomic-fs.ts')};
      writeFileAtomic(process.argv[2], 'new\\n');`,
      script,
    );
    const target = join(dir, 'record.json');
    writeFileSync(target, 'old\n');
    const killed = spawnSync(process.execPath, [script, target], {
      env: { ...process.env, PILOT_FAULT_AT: '1' },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(readFileSync(target, 'utf8')).toBe('old\n');
    const left = readdirSync(dir).filter((name) => name !== 'record.json');
    expect(left).toHaveLength(1);
    expect(left[0]!.startsWith('.')).toBe(true);
    expect(tempEntryOwner(left[0]!)?.pid).toBe(killed.pid);

    writeFileAtomic(join(dir, 'other.json'), 'x');
    expect(readdirSync(dir).sort()).toEqual(['other.json', 'record.json']);
  });
});

describe('removeDeadClaim', () => {
  it('removes a claim of a dead owner, keeps a live one and files that are not claims', () => {
    const dir = freshDir();
    writeFileSync(join(dir, '.dead.lock'), `${DEAD_PID} 5\n`);
    writeFileSync(join(dir, '.live.lock'), `${formatOwner()}\n`);
    writeFileSync(join(dir, '.notes.lock'), 'my own notes\n');
    expect(removeDeadClaim(join(dir, '.dead.lock'))).toBe(true);
    expect(removeDeadClaim(join(dir, '.live.lock'))).toBe(false);
    expect(removeDeadClaim(join(dir, '.notes.lock'))).toBe(false);
    expect(removeDeadClaim(join(dir, '.none.lock'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['.live.lock', '.notes.lock']);
  });
});
