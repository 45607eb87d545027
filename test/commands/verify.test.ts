import { chmodSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAndRepair, verifyStore } from '../../src/commands/verify.js';
import { checkStoreQuick, quickStoreProblems } from '../../src/commands/verify-quick.js';
import { repairStore } from '../../src/commands/verify-repair.js';
import { storeDirs } from '../../src/core/paths.js';
import { layerManifestPath, layerRecordPath, readLayerRecord } from '../../src/store/layers.js';
import { loadArchive } from '../../src/store/load.js';
import {
  makeImage,
  makeLayer,
  ociFiles,
  simpleLayer,
  type TempStore,
  tarOf,
  tempStore,
  tmpEntries,
} from '../store/helpers.js';

let store: TempStore;
let archive: string;
const base = simpleLayer('base');
const top = makeLayer([{ path: 'app', body: 'app\n', mode: 0o755 }]);
const image = makeImage([base, top]);

beforeEach(async () => {
  store = tempStore();
  archive = join(store.dir, 'img.tar');
  writeFileSync(archive, tarOf(ociFiles([{ image, refName: 'example.com/app:1' }])));
  await loadArchive(store.paths, archive);
});
afterEach(() => store.cleanup());

const layerDir = (diffId: string) => storeDirs.layer(store.paths, diffId);

describe('verifyStore', () => {
  it('finds a freshly loaded store whole, and records where each layer came from', () => {
    const report = verifyStore(store.paths);
    expect(report.damaged).toBe(false);
    expect(report.layers.map((l) => l.diffId).sort()).toEqual([base.diffId, top.diffId].sort());
    expect(report.images).toMatchObject([{ names: ['example.com/app:1'], damaged: false }]);
    expect(readLayerRecord(store.paths, top.diffId)?.source).toBe(archive);
    expect(quickStoreProblems(store.paths)).toEqual([]);
  });

  it('names each damaged file and the image that uses the layer', () => {
    writeFileSync(join(layerDir(base.diffId), 'etc/base'), 'changed\n');
    chmodSync(join(layerDir(base.diffId), 'usr/bin/base'), 0o700);
    writeFileSync(join(layerDir(base.diffId), 'etc/new'), 'x');
    rmSync(join(layerDir(top.diffId), 'app'));
    const report = verifyStore(store.paths);
    expect(report.damaged).toBe(true);
    const byId = new Map(report.layers.map((l) => [l.diffId, l]));
    expect(byId.get(base.diffId)).toMatchObject({
      corrupted: [
        { path: 'etc/base', changes: ['content (size 5 is now 8)'] },
        { path: 'usr/bin/base', changes: ['mode (755 is now 700)'] },
      ],
      extra: ['etc/new'],
      images: ['example.com/app:1'],
    });
    expect(byId.get(top.diffId)?.missing).toEqual(['app']);
    expect(report.images[0]?.damagedLayers.sort()).toEqual([base.diffId, top.diffId].sort());
  });

  it('writes a baseline for a layer without manifest and checks against it afterwards', () => {
    rmSync(layerManifestPath(store.paths, top.diffId));
    expect(quickStoreProblems(store.paths)).toEqual([
      expect.stringMatching(/has no manifest \(extracted by an earlier pilot\)/),
    ]);
    const first = verifyStore(store.paths);
    expect(first.damaged).toBe(false);
    expect(first.layers.find((l) => l.diffId === top.diffId)?.baseline).toBe(true);
    writeFileSync(join(layerDir(top.diffId), 'app'), 'other\n');
    const second = verifyStore(store.paths);
    expect(second.layers.find((l) => l.diffId === top.diffId)).toMatchObject({
      baseline: false,
      damaged: true,
    });
  });
});

describe('repairStore', () => {
  it('extracts damaged and missing layers again from the archive they came from', async () => {
    writeFileSync(join(layerDir(base.diffId), 'etc/base'), 'changed\n');
    renameSync(layerDir(top.diffId), join(store.dir, 'moved-away'));
    expect(quickStoreProblems(store.paths)).toEqual([expect.stringMatching(/is missing/)]);
    expect(checkStoreQuick(store.paths)).toMatchObject({ status: 'warn', required: false });
    const actions = await repairStore(store.paths, verifyStore(store.paths));
    expect(actions).toEqual([
      expect.objectContaining({
        kind: 'layer',
        done: true,
        detail: `extracted again from ${archive}`,
      }),
      expect.objectContaining({
        kind: 'layer',
        done: true,
        detail: `extracted again from ${archive}`,
      }),
    ]);
    expect(verifyStore(store.paths).damaged).toBe(false);
    expect(tmpEntries(store.paths)).toEqual([]);
  });

  it('rebuilds a truncated image record and a lost layer record', async () => {
    truncateSync(join(storeDirs.images(store.paths), `${image.configDigest.slice(7)}.json`), 20);
    rmSync(layerRecordPath(store.paths, top.diffId));
    const found = verifyStore(store.paths);
    expect(found.images[0]?.problems).toEqual([expect.stringMatching(/cannot be read/)]);
    const actions = await repairStore(store.paths, found);
    expect(actions.map((a) => [a.kind, a.done])).toEqual([
      ['image', true],
      ['layer', true],
    ]);
    const after = verifyStore(store.paths);
    expect(after.damaged).toBe(false);
    expect(after.images[0]).toMatchObject({ names: ['example.com/app:1'] });
  });

  it('says which archive to give when the one recorded is gone', async () => {
    writeFileSync(join(layerDir(top.diffId), 'app'), 'other\n');
    const moved = join(store.dir, 'elsewhere.tar');
    renameSync(archive, moved);
    const actions = await repairStore(store.paths, verifyStore(store.paths));
    expect(actions).toEqual([
      expect.objectContaining({
        done: false,
        detail: expect.stringMatching(
          /no archive at hand holds layer .*looked in .*img\.tar.*--from ARCHIVE/,
        ),
      }),
    ]);
    expect(verifyStore(store.paths).damaged).toBe(true);
    const again = await repairStore(store.paths, verifyStore(store.paths), [moved]);
    expect(again).toEqual([expect.objectContaining({ done: true })]);
    expect(verifyStore(store.paths).damaged).toBe(false);
  });
});

describe('verifyAndRepair', () => {
  it('checks once and repairs nothing on a whole store, even when asked to', async () => {
    const run = await verifyAndRepair(store.paths, { repair: true, from: [] });
    expect(run.repairs).toEqual([]);
    expect(run.report).toBe(run.found);
    expect(run.found.damaged).toBe(false);
  });

  it('only reports damage without repair', async () => {
    writeFileSync(join(layerDir(base.diffId), 'etc/base'), 'changed\n');
    const run = await verifyAndRepair(store.paths, { repair: false, from: [] });
    expect(run).toMatchObject({ repairs: [], found: { damaged: true } });
    expect(run.report).toBe(run.found);
    expect(verifyStore(store.paths).damaged).toBe(true);
  });

  it('repairs, then reports what remains from a second pass beside what the first found', async () => {
    writeFileSync(join(layerDir(base.diffId), 'etc/base'), 'changed\n');
    const run = await verifyAndRepair(store.paths, { repair: true, from: [] });
    expect(run.found.damaged).toBe(true);
    expect(run.repairs).toEqual([expect.objectContaining({ kind: 'layer', done: true })]);
    expect(run.report.damaged).toBe(false);
  });
});
