import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_FORMAT, storeFormat } from '../../src/core/store-version.js';
import { upgradeStore } from '../../src/store/store-format.js';
import { isRoot, type TempStore, tempStore } from './helpers.js';

const HEX = 'a'.repeat(64);

describe.skipIf(!isRoot)('a store from an earlier pilot', () => {
  let store: TempStore;
  beforeEach(() => {
    store = tempStore();
    const { paths } = store;
    const layer = join(paths.store, 'layers', HEX);
    mkdirSync(join(layer, 'usr/bin'), { recursive: true });
    writeFileSync(join(layer, 'usr/bin/su'), 'su');
    chmodSync(join(layer, 'usr/bin/su'), 0o4755);
    writeFileSync(
      `${layer}.json`,
      JSON.stringify({ diffId: `sha256:${HEX}`, alias: HEX.slice(0, 10), size: 2 }),
    );
    mkdirSync(join(paths.store, 'host', 'b'.repeat(64)), { recursive: true, mode: 0o755 });
    mkdirSync(join(paths.run, 'plans'), { recursive: true });
    writeFileSync(join(paths.run, 'plans', 'x.u0.plan'), 'pilot-plan\0');
  });
  afterEach(() => store.cleanup());

  it('is brought to canonical permissions once, its originals recorded', () => {
    const { paths } = store;
    expect(storeFormat(paths)).toBe(0);
    expect(upgradeStore(paths)).toBe(1);
    const layer = join(paths.store, 'layers', HEX);
    expect(lstatSync(join(layer, 'usr/bin/su')).mode & 0o7777).toBe(0o755);
    const record = JSON.parse(readFileSync(`${layer}.json`, 'utf8'));
    expect(record.format).toBe(STORE_FORMAT);
    expect(record.original).toContainEqual(['usr/bin/su', 0, 0, 0o104755]);
    expect(record.opaqueDirs).toEqual([]);
    // Old host layers are closed; old plans (which name them) are gone.
    expect(statSync(join(paths.store, 'host', 'b'.repeat(64))).mode & 0o777).toBe(0o700);
    expect(existsSync(join(paths.run, 'plans'))).toBe(false);
    expect(storeFormat(paths)).toBe(STORE_FORMAT);
    // Never twice.
    chmodSync(join(layer, 'usr/bin/su'), 0o4755);
    expect(upgradeStore(paths)).toBe(0);
    expect(lstatSync(join(layer, 'usr/bin/su')).mode & 0o7777).toBe(0o4755);
  });

  it('is left alone by anyone but its owner', () => {
    const { paths } = store;
    const seteuid = process.seteuid!;
    seteuid(65534);
    try {
      expect(upgradeStore(paths)).toBe(0);
    } finally {
      seteuid(0);
    }
    expect(storeFormat(paths)).toBe(0);
  });
});

describe.skipIf(!isRoot)('a format 2 store', () => {
  let store: TempStore;
  afterEach(() => store.cleanup());

  it("gets each layer's opaque directories into its record, without canonicalising again", () => {
    store = tempStore();
    const { paths } = store;
    mkdirSync(paths.store, { recursive: true });
    writeFileSync(join(paths.store, 'format'), '2\n');
    const layer = join(paths.store, 'layers', HEX);
    mkdirSync(join(layer, 'opt/d'), { recursive: true });
    mkdirSync(join(layer, 'srv/a b'), { recursive: true });
    mkdirSync(join(layer, 'var/plain'), { recursive: true });
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', join(layer, 'opt/d')]);
    execFileSync('setfattr', ['-n', 'user.overlay.opaque', '-v', 'y', join(layer, 'srv/a b')]);
    // "x": only says that whiteouts are inside, not that the directory is opaque
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'x', join(layer, 'var/plain')]);
    // A format 2 tree is canonical: a mode that canonicalisation would change shows a rerun.
    writeFileSync(join(layer, 'opt/d/tool'), 'x');
    chmodSync(join(layer, 'opt/d/tool'), 0o4755);
    const before = { diffId: `sha256:${HEX}`, alias: HEX.slice(0, 10), size: 1, format: 2 };
    writeFileSync(`${layer}.json`, JSON.stringify(before));

    expect(upgradeStore(paths)).toBe(0);
    const record = JSON.parse(readFileSync(`${layer}.json`, 'utf8'));
    expect(record).toEqual({
      ...before,
      original: [],
      opaqueDirs: ['/opt/d', '/srv/a b'],
      format: STORE_FORMAT,
    });
    expect(lstatSync(join(layer, 'opt/d/tool')).mode & 0o7777).toBe(0o4755);
    expect(storeFormat(paths)).toBe(STORE_FORMAT);
  });
});
