/**
 * dist/pilot-launch.mjs: what an app's link reaches when the stub hands a call over. It
 * runs the launcher (pilot/main.ts, bundled by build.mjs as one script,
 * chunks/launch.cjs) through V8's code cache: compiling that script and the functions a
 * launch calls costs some 10-15 ms of every start, and Node 20 caches no compiled code
 * of its own (`module.enableCompileCache()` came with Node 22).
 *
 * The cache is the caller's: `$TMPDIR/pilot-code-cache-<euid>/`, a 0700 dir that must be
 * the caller's own (else no cache is used: a file there is code this process runs). A
 * cache file is named by the script's stamp, `dev:ino:size:mtime_ns` of the file read and
 * Node's version, so an upgraded launcher never meets code compiled from the old one;
 * V8 checks its own version, flags and the source's length again and ignores a cache that
 * does not fit (`cachedDataRejected`). A call that had no usable cache writes one when it
 * ends (temp file + rename) and removes the older ones of the same install (script path)
 * and the oldest of other installs beyond a few. `PILOT_CODE_CACHE=off` runs
 * without it. Any failure of the cache costs only its gain: the script still runs.
 *
 * Only node built-ins here: this file loads before anything else of pilot's.
 */
import { type BigIntStats, closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';
import { cacheDir, cacheName, cachePrefix, readCache, writeCache } from './code-cache.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'chunks', 'launch.cjs');

function readScript(): { source: string; stat: BigIntStats } {
  try {
    const fd = openSync(script, 'r');
    try {
      return { source: readFileSync(fd, 'utf8'), stat: fstatSync(fd, { bigint: true }) };
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    process.stderr.write(
      `pilot: cannot load the launcher ${script}: ${(error as Error).message} (reinstall pilot: "make install")\n`,
    );
    process.exit(126);
  }
}

const { source, stat } = readScript();
const euid = process.geteuid?.() ?? 0;
const dir = process.env.PILOT_CODE_CACHE === 'off' ? undefined : cacheDir(process.env, euid);
const name = cacheName(script, stat, process.version, process.arch);
const cachedData = dir ? readCache(dir, name, euid) : undefined;
// The CommonJS wrapper, and for import.meta.url (build.mjs) this file's: main.ts finds
// pilot-exec beside it.
const compiled = new Script(
  `(function (exports, require, module, __filename, __dirname, __pilotImportMetaUrl) {${source}\n})`,
  { filename: script, cachedData },
);
if (dir && (cachedData === undefined || compiled.cachedDataRejected)) {
  // At exit, so that the cache holds every function this launch compiled.
  process.once('exit', () =>
    writeCache(dir, name, cachePrefix(script), euid, () => compiled.createCachedData()),
  );
}
const run = compiled.runInThisContext() as (...args: unknown[]) => void;
const module = { exports: {} };
run(module.exports, createRequire(script), module, script, dirname(script), import.meta.url);
