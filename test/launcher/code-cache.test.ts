/**
 * The launcher's code cache (pilot/code-cache.ts, pilot/launch-entry.ts): only the
 * caller's own files are ever used, a changed script never meets an old cache, and the
 * built launcher writes a cache once and then runs from it.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  cacheDir,
  cacheName,
  cachePrefix,
  KEEP_CACHES,
  readCache,
  writeCache,
} from '../../pilot/code-cache.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-code-cache-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const euid = process.geteuid?.() ?? 0;

describe('cacheDir', () => {
  it('makes $TMPDIR/pilot-code-cache-<euid> 0700 and takes it again', () => {
    const tmp = join(work, 'tmp1');
    mkdirSync(tmp);
    const dir = cacheDir({ TMPDIR: tmp }, euid);
    expect(dir).toBe(join(tmp, `pilot-code-cache-${euid}`));
    expect(statSync(dir!).mode & 0o777).toBe(0o700);
    expect(cacheDir({ TMPDIR: tmp }, euid)).toBe(dir);
  });

  it('takes /tmp for a TMPDIR that is not absolute', () => {
    expect(cacheDir({ TMPDIR: 'rel' }, euid)).toBe(join('/tmp', `pilot-code-cache-${euid}`));
  });

  it('refuses a dir others may enter, a symlink, or one of another user', () => {
    const open = join(work, 'tmp2');
    mkdirSync(join(open, `pilot-code-cache-${euid}`), { recursive: true, mode: 0o755 });
    chmodSync(join(open, `pilot-code-cache-${euid}`), 0o755);
    expect(cacheDir({ TMPDIR: open }, euid)).toBeUndefined();

    const linked = join(work, 'tmp3');
    mkdirSync(join(linked, 'real'), { recursive: true, mode: 0o700 });
    symlinkSync(join(linked, 'real'), join(linked, `pilot-code-cache-${euid}`));
    expect(cacheDir({ TMPDIR: linked }, euid)).toBeUndefined();

    if (euid === 0) {
      const theirs = join(work, 'tmp4');
      mkdirSync(join(theirs, 'pilot-code-cache-0'), { recursive: true, mode: 0o700 });
      chownSync(join(theirs, 'pilot-code-cache-0'), 65534, 65534);
      expect(cacheDir({ TMPDIR: theirs }, 0)).toBeUndefined();
    }
  });
});

describe('cacheName', () => {
  it('changes with the script (dev, inode, size, mtime) and with Node', () => {
    const file = join(work, 'script.cjs');
    writeFileSync(file, 'a');
    const first = cacheName(file, statSync(file, { bigint: true }), 'v20.20.2', 'x64');
    expect(first).toMatch(/^launch-[0-9a-f]{8}-v20\.20\.2-x64-\d+-\d+-1-\d+\.v8$/);
    expect(first.startsWith(cachePrefix(file))).toBe(true);
    expect(cacheName(file, statSync(file, { bigint: true }), 'v20.20.3', 'x64')).not.toBe(first);
    const replaced = join(work, 'script.new');
    writeFileSync(replaced, 'b');
    copyFileSync(replaced, `${file}.tmp`);
    rmSync(file);
    cpSync(`${file}.tmp`, file);
    expect(cacheName(file, statSync(file, { bigint: true }), 'v20.20.2', 'x64')).not.toBe(first);
  });

  it('tells installs apart by the script path', () => {
    expect(cachePrefix('/usr/libexec/pilot/chunks/launch.cjs')).toMatch(/^launch-[0-9a-f]{8}-$/);
    expect(cachePrefix('/usr/libexec/pilot/chunks/launch.cjs')).not.toBe(
      cachePrefix('/home/dev/pilot/dist/chunks/launch.cjs'),
    );
  });
});

describe('readCache and writeCache', () => {
  it('writes 0600 by rename, reads it back, and drops the older caches of the same install', () => {
    const dir = join(work, 'rw');
    mkdirSync(dir, { mode: 0o700 });
    writeFileSync(join(dir, 'launch-aaaaaaaa-old.v8'), 'old', { mode: 0o600 });
    writeFileSync(join(dir, 'launch-bbbbbbbb-other-install.v8'), 'kept', { mode: 0o600 });
    writeFileSync(join(dir, 'other-file'), 'kept', { mode: 0o600 });
    writeCache(dir, 'launch-aaaaaaaa-new.v8', 'launch-aaaaaaaa-', euid, () => Buffer.from('data'));
    expect(readdirSync(dir).sort()).toEqual([
      'launch-aaaaaaaa-new.v8',
      'launch-bbbbbbbb-other-install.v8',
      'other-file',
    ]);
    expect(statSync(join(dir, 'launch-aaaaaaaa-new.v8')).mode & 0o777).toBe(0o600);
    expect(readCache(dir, 'launch-aaaaaaaa-new.v8', euid)?.toString()).toBe('data');
  });

  it('keeps at most KEEP_CACHES caches, dropping those of other installs written longest ago', () => {
    const dir = join(work, 'many');
    mkdirSync(dir, { mode: 0o700 });
    const old = Array.from({ length: KEEP_CACHES + 2 }, (_, i) => `launch-0000000${i}-x.v8`);
    old.forEach((entry, i) => {
      writeFileSync(join(dir, entry), 'x', { mode: 0o600 });
      utimesSync(join(dir, entry), 1_000_000 + i, 1_000_000 + i);
    });
    writeFileSync(join(dir, 'not-a-cache'), 'kept', { mode: 0o600 });
    writeCache(dir, 'launch-ffffffff-new.v8', 'launch-ffffffff-', euid, () => Buffer.from('d'));
    const newest = old.slice(-(KEEP_CACHES - 1));
    expect(readdirSync(dir).sort()).toEqual(
      ['launch-ffffffff-new.v8', ...newest, 'not-a-cache'].sort(),
    );
  });

  it('reads no cache that is missing, a symlink, writable by others, or not the caller’s', () => {
    const dir = join(work, 'bad');
    mkdirSync(dir, { mode: 0o700 });
    expect(readCache(dir, 'launch-none.v8', euid)).toBeUndefined();
    writeFileSync(join(dir, 'target'), 'x', { mode: 0o600 });
    symlinkSync(join(dir, 'target'), join(dir, 'launch-link.v8'));
    expect(readCache(dir, 'launch-link.v8', euid)).toBeUndefined();
    writeFileSync(join(dir, 'launch-open.v8'), 'x');
    chmodSync(join(dir, 'launch-open.v8'), 0o666);
    expect(readCache(dir, 'launch-open.v8', euid)).toBeUndefined();
    writeFileSync(join(dir, 'launch-theirs.v8'), 'x', { mode: 0o600 });
    expect(readCache(dir, 'launch-theirs.v8', euid + 1)).toBeUndefined();
  });

  it('leaves no temp file when producing the cache fails', () => {
    const dir = join(work, 'fail');
    mkdirSync(dir, { mode: 0o700 });
    writeCache(dir, 'launch-x.v8', 'launch-', euid, () => {
      throw new Error('no');
    });
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('the built launcher', () => {
  const dist = join(__dirname, '../../dist');
  const built = existsSync(join(dist, 'chunks', 'launch.cjs'));

  /** Runs dist/pilot-launch.mjs with TMPDIR; PILOT_ROOT names no store, so it fails alike each time. */
  function launch(tmp: string, env: NodeJS.ProcessEnv = {}) {
    return spawnSync(process.execPath, [join(dist, 'pilot-launch.mjs')], {
      env: {
        PATH: process.env.PATH,
        TMPDIR: tmp,
        PILOT_ROOT: join(tmp, 'no-store'),
        PILOT_LAUNCH_AS: 'no-such-app',
        ...env,
      },
      encoding: 'utf8',
    });
  }

  it.runIf(built)('writes its cache on the first call and runs from it after, alike', () => {
    const tmp = join(work, 'built');
    mkdirSync(tmp);
    const first = launch(tmp);
    const dir = join(tmp, `pilot-code-cache-${euid}`);
    const caches = readdirSync(dir);
    expect(caches).toHaveLength(1);
    expect(caches[0]).toMatch(/^launch-.*\.v8$/);
    const written = statSync(join(dir, caches[0]!)).mtimeMs;
    const second = launch(tmp);
    expect(second.status).toBe(first.status);
    expect(second.stderr).toBe(first.stderr);
    expect(first.stderr).toContain('no-such-app');
    // Taken, not written again.
    expect(statSync(join(dir, caches[0]!)).mtimeMs).toBe(written);
  });

  it.runIf(built)(
    'runs alike without a cache (PILOT_CODE_CACHE=off) and with a cache V8 rejects',
    () => {
      const tmp = join(work, 'built-off');
      mkdirSync(tmp);
      const off = launch(tmp, { PILOT_CODE_CACHE: 'off' });
      expect(existsSync(join(tmp, `pilot-code-cache-${euid}`))).toBe(false);
      const reference = launch(tmp);
      const dir = join(tmp, `pilot-code-cache-${euid}`);
      const [name] = readdirSync(dir);
      writeFileSync(join(dir, name!), 'not a code cache', { mode: 0o600 });
      const rejected = launch(tmp);
      expect(rejected.status).toBe(off.status);
      expect(rejected.stderr).toBe(off.stderr);
      expect(reference.stderr).toBe(off.stderr);
      // The rejected cache was replaced by a real one.
      expect(statSync(join(dir, name!)).size).toBeGreaterThan(1000);
    },
  );
});
