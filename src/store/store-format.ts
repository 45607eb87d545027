/**
 * Converting a store to the current format (core/store-version.ts). A store an earlier
 * pilot wrote is brought to the current format once, by the first command its owner
 * runs, and the version written last, so a crash midway only means the next command
 * finishes the job:
 *
 *  - to format 2 (canonical permissions: DESIGN.md, Trust; extract/canonical.ts): every
 *    layer and include extraction is canonicalised in place, and the owners and modes it
 *    had are added to the layer record; host layers are closed to everyone but their
 *    owner (0700): an earlier pilot hard-linked any host file, setuid programs included,
 *    and they are rebuilt under new keys anyway; `gc` removes them once no call uses them;
 *  - to format 3: each layer record lists the directories the layer marks opaque (read
 *    from the tree's xattrs), so that host-file placement sees the merged view;
 *  - fast plans are dropped (they name those host layers): every caller plans anew.
 */
import { chmodSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../core/atomic-fs.js';
import { debugStep } from '../core/debug.js';
import { pathOwner } from '../core/fs-query.js';
import { listDir } from '../core/list-dir.js';
import { type PilotPaths, storeDirs } from '../core/paths.js';
import { STORE_FORMAT, storeFormat, storeFormatFile } from '../core/store-version.js';
import { canonicaliseTree } from './extract/canonical.js';
import { layerOpaqueDirs, layerRecordPath, readLayerRecord } from './layer-record.js';

const HEX = /^[a-f0-9]{64}$/;

/** The format that made the store's trees canonical. */
const CANONICAL_FORMAT = 2;

/**
 * Brings the store to STORE_FORMAT when its owner runs this and it is older; returns
 * the number of trees canonicalised. Anyone else, or an absent store, changes nothing.
 */
export function upgradeStore(paths: PilotPaths): number {
  if (pathOwner(paths.store) !== (process.geteuid?.() ?? 0)) return 0;
  const format = storeFormat(paths);
  if (format >= STORE_FORMAT) return 0;
  const owner = process.geteuid?.() === 0 ? { uid: 0, gid: 0 } : undefined;
  let trees = 0;
  for (const name of listDir(storeDirs.layers(paths))) {
    if (!HEX.test(name)) continue;
    const diffId = `sha256:${name}`;
    const record = readLayerRecord(paths, diffId);
    if (record?.format === STORE_FORMAT) continue;
    let original = record?.original ?? [];
    // A record of format 2 names a tree that is canonical already.
    if ((record?.format ?? format) < CANONICAL_FORMAT) {
      original = [...original, ...canonicaliseTree(join(storeDirs.layers(paths), name), owner)];
      trees += 1;
    }
    if (record && typeof record === 'object') {
      writeJsonAtomic(layerRecordPath(paths, diffId), {
        ...record,
        original,
        opaqueDirs: layerOpaqueDirs(paths, diffId, record),
        format: STORE_FORMAT,
      });
    }
  }
  if (format < CANONICAL_FORMAT) {
    for (const name of listDir(join(paths.store, 'includes'))) {
      if (!HEX.test(name)) continue;
      canonicaliseTree(join(paths.store, 'includes', name), owner);
      trees += 1;
    }
    for (const name of listDir(storeDirs.hostLayers(paths))) {
      if (HEX.test(name)) chmodSync(join(storeDirs.hostLayers(paths), name), 0o700);
    }
  }
  rmSync(join(paths.run, 'plans'), { recursive: true, force: true });
  writeFileAtomic(storeFormatFile(paths), `${STORE_FORMAT}\n`, 0o644);
  debugStep(`store brought to format ${STORE_FORMAT}: ${trees} trees canonicalised`);
  return trees;
}

/**
 * A store made now is of the current format, and says so: without the file the next
 * command would take it for an earlier pilot's and upgrade it (dropping every plan).
 * A store that holds trees already is left to upgradeStore.
 */
export function markNewStore(paths: PilotPaths): void {
  if (storeFormat(paths) !== 0) return;
  const dirs = [
    storeDirs.layers(paths),
    join(paths.store, 'includes'),
    storeDirs.hostLayers(paths),
  ];
  if (dirs.some((dir) => listDir(dir).length > 0)) return;
  writeFileAtomic(storeFormatFile(paths), `${STORE_FORMAT}\n`, 0o644);
}
