/**
 * `pilot verify --repair`: restores what `verify` found damaged, never leaving a half
 * repaired layer.
 *
 *  - An image record (damaged, or missing under a name) is rebuilt from the image's
 *    config blob, which the store keeps (its sha256 is the image id, so a damaged blob
 *    is detected): the layers are the config's diff_ids.
 *  - A layer is extracted again from an archive that holds it: `--from FILE`, the archive
 *    its record says it was loaded from, or the archive any other layer of an image
 *    using it was loaded from. The store keeps no layer blobs (DESIGN.md: "the original
 *    layer tarballs need not be kept"), so without such an archive the report says which
 *    one to give. The new tree is extracted and checked against its diff_id in the
 *    store's tmp/, its manifest and record written, and it replaces the damaged tree by
 *    rename: a crash leaves the damaged layer, or no layer (verify says "missing" and
 *    the next repair extracts it), never a mix.
 *  - A layer whose tree matches its manifest but whose record is lost gets the record
 *    back from the tree (the image's original owners and modes, kept only for `show`,
 *    are lost with it).
 *
 * Repairs hold gc off like a load does (store/temp.ts), so gc cannot remove a layer
 * that is being put back.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { commitTree, writeFileAtomic, writeJsonAtomic } from '../core/atomic-fs.js';
import { errnoOf } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import { type ImageRecord, layerAlias } from '../core/image-record.js';
import { listDir } from '../core/list-dir.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { STORE_FORMAT } from '../core/store-version.js';
import { removeTree } from '../core/temp-entries.js';
import { treeSize } from '../core/tree-size.js';
import { readImagePlans } from '../store/archive-images.js';
import { type ArchiveFiles, openArchive } from '../store/archive-source.js';
import { extractTarSafely } from '../store/extract.js';
import { pickImageConfig } from '../store/image-config.js';
import { serializeManifest } from '../store/layer-manifest.js';
import { scanTree } from '../store/layer-manifest-scan.js';
import { opaqueDirsOfTree } from '../store/layer-record.js';
import {
  ensureLayerAlias,
  extractedLayerRecord,
  layerManifestPath,
  layerRecordPath,
  readLayerRecord,
  type StoredLayerRecord,
} from '../store/layers.js';
import { beginLoad } from '../store/temp.js';
import { type VerifyReport, verifyStore } from './verify.js';

export interface RepairAction {
  kind: 'image' | 'layer';
  id: string;
  done: boolean;
  detail: string;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The manifest blob that names `id` as its config, if the store keeps one. */
function findManifestDigest(paths: PilotPaths, id: string): string | undefined {
  for (const name of listDir(storeDirs.blobs(paths))) {
    const path = join(storeDirs.blobs(paths), name);
    try {
      if (!/^[a-f0-9]{64}$/.test(name) || statSync(path).size > MAX_MANIFEST_BYTES) continue;
      const data = readFileSync(path);
      if (sha256(data) !== name) continue;
      if (JSON.parse(data.toString())?.config?.digest === id) return `sha256:${name}`;
    } catch {
      // not JSON, or gone meanwhile: not the manifest
    }
  }
  return undefined;
}

function rebuildImageRecord(paths: PilotPaths, id: string): RepairAction {
  const hex = digestHex(id);
  const fail = (why: string): RepairAction => ({
    kind: 'image',
    id,
    done: false,
    detail: `${why}; load the image's archive again ("pilot load ARCHIVE") or pull it`,
  });
  let config: Buffer;
  try {
    config = readFileSync(join(storeDirs.blobs(paths), hex));
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
    return fail('its config blob is not in the store');
  }
  if (sha256(config) !== hex) return fail('its config blob is damaged too');
  let raw: { rootfs?: { diff_ids?: unknown }; config?: unknown };
  try {
    raw = JSON.parse(config.toString());
  } catch {
    return fail('its config blob is not JSON');
  }
  const diffIds = raw.rootfs?.diff_ids;
  if (!Array.isArray(diffIds) || !diffIds.every((d) => /^sha256:[a-f0-9]{64}$/.test(String(d)))) {
    return fail('its config blob lists no valid rootfs.diff_ids');
  }
  const record: ImageRecord = {
    id,
    manifestDigest: findManifestDigest(paths, id) ?? id,
    layers: diffIds as string[],
    config: pickImageConfig(`config blob ${hex}`, raw.config),
    size: (diffIds as string[]).reduce((sum, diffId) => sum + layerSize(paths, diffId), 0),
    loaded: new Date().toISOString(),
  };
  writeJsonAtomic(join(storeDirs.images(paths), `${hex}.json`), record);
  return { kind: 'image', id, done: true, detail: 'image record rebuilt from its config blob' };
}

function layerSize(paths: PilotPaths, diffId: string): number {
  const size = readLayerRecordSafely(paths, diffId)?.size;
  if (typeof size === 'number') return size;
  try {
    return treeSize(storeDirs.layer(paths, diffId));
  } catch {
    return 0; // missing: its repair or a new load brings it back
  }
}

/** Archives to look in for a layer, best first, each once. */
function candidateSources(
  paths: PilotPaths,
  diffId: string,
  report: VerifyReport,
  from: readonly string[],
): { sources: string[]; pulled: string[] } {
  const sources = new Set(from.map((f) => resolve(f)));
  const pulled = new Set<string>();
  const note = (record: StoredLayerRecord | undefined) => {
    if (record?.source) sources.add(record.source);
    if (record?.pulled) pulled.add(record.pulled);
  };
  note(readLayerRecordSafely(paths, diffId));
  for (const image of report.images) {
    if (!image.damagedLayers.includes(diffId)) continue;
    const record = readImageLayers(paths, image.id);
    for (const other of record) if (other !== diffId) note(readLayerRecordSafely(paths, other));
  }
  return { sources: [...sources], pulled: [...pulled] };
}

function readLayerRecordSafely(paths: PilotPaths, diffId: string): StoredLayerRecord | undefined {
  try {
    return readLayerRecord(paths, diffId);
  } catch {
    return undefined;
  }
}

function readImageLayers(paths: PilotPaths, id: string): string[] {
  try {
    const record = JSON.parse(
      readFileSync(join(storeDirs.images(paths), `${digestHex(id)}.json`), 'utf8'),
    );
    return Array.isArray(record?.layers) ? record.layers : [];
  } catch {
    return [];
  }
}

class ArchiveCache {
  private readonly opened = new Map<string, Promise<ArchiveFiles | undefined>>();
  private count = 0;
  constructor(private readonly workDir: string) {}

  /** The layer's blob in `source`, or undefined when the archive is gone or lacks it. */
  async find(source: string, diffId: string) {
    let files = this.opened.get(source);
    if (!files) {
      const scratch = join(this.workDir, `archive-${this.count++}`);
      mkdirSync(scratch, { mode: 0o700 });
      files = openArchive(source, scratch).catch(() => undefined);
      this.opened.set(source, files);
    }
    const archive = await files;
    if (!archive) return undefined;
    try {
      const { plans } = await readImagePlans(archive);
      for (const plan of plans) {
        const layer = plan.layers.find((l) => l.diffId === diffId && l.blob);
        if (layer) return { blob: layer.blob!, digest: layer.digest };
      }
    } catch {
      // not an archive pilot can read any more: try the next one
    }
    return undefined;
  }
}

async function reextractLayer(
  paths: PilotPaths,
  diffId: string,
  workDir: string,
  archives: ArchiveCache,
  sources: string[],
): Promise<string | undefined> {
  const hex = digestHex(diffId);
  for (const source of sources) {
    const found = await archives.find(source, diffId);
    if (!found) continue;
    const fresh = join(workDir, `fresh-${hex}`);
    const extracted = await extractTarSafely({ open: () => found.blob.open() }, fresh, {
      tmpDir: workDir,
      label: `layer ${diffId} of ${source}`,
      expectedDigest: found.digest,
      expectedDiffId: diffId,
    });
    const kept = readLayerRecordSafely(paths, diffId);
    const live = storeDirs.layer(paths, diffId);
    const manifest = serializeManifest(scanTree(fresh));
    // Damaged tree out, manifest and record, new tree in: each step leaves either the
    // damaged layer or no layer, and a present layer always has its manifest.
    try {
      renameSync(live, join(workDir, `old-${hex}`));
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
    writeFileAtomic(layerManifestPath(paths, diffId), manifest);
    writeJsonAtomic(layerRecordPath(paths, diffId), {
      ...(kept && typeof kept === 'object' ? kept : {}),
      ...extractedLayerRecord(diffId, extracted, { source }),
    });
    // Durable like a load's layer: its data on disk before the rename (atomic-fs.ts).
    commitTree(fresh, live);
    ensureLayerAlias(paths, diffId);
    return source;
  }
  return undefined;
}

function missingSourceHint(diffId: string, sources: string[], pulled: string[]): string {
  const tried =
    sources.length > 0 ? ` (looked in ${sources.map((s) => escapeName(s)).join(', ')})` : '';
  const origin =
    pulled.length > 0
      ? `; it was pulled as ${pulled.map((p) => escapeName(p)).join(', ')}: "podman save -o FILE ${escapeName(pulled[0]!)}" makes one`
      : '';
  return `no archive at hand holds layer ${diffId}${tried}${origin}; run "pilot verify --repair --from ARCHIVE" with an archive of an image that uses it`;
}

/** Restores what `report` found damaged; returns what was done and what was not. */
export async function repairStore(
  paths: PilotPaths,
  firstReport: VerifyReport,
  from: readonly string[] = [],
): Promise<RepairAction[]> {
  const actions: RepairAction[] = [];
  const workDir = await beginLoad(paths);
  try {
    let report = firstReport;
    const brokenImages = report.images.filter((image) => image.problems.length > 0);
    for (const image of brokenImages) actions.push(rebuildImageRecord(paths, image.id));
    // Rebuilt records may name layers the first pass did not know were used.
    if (brokenImages.length > 0) report = verifyStore(paths);
    const archives = new ArchiveCache(workDir);
    for (const layer of report.layers.filter((l) => l.damaged)) {
      const treeIntact =
        isCleanTree(layer) && layer.problems.every((problem) => problem.startsWith('its record'));
      if (treeIntact) {
        const record: StoredLayerRecord = {
          diffId: layer.diffId,
          alias: layerAlias(layer.diffId),
          size: treeSize(storeDirs.layer(paths, layer.diffId)),
          opaqueDirs: opaqueDirsOfTree(storeDirs.layer(paths, layer.diffId)),
          format: STORE_FORMAT,
        };
        writeJsonAtomic(layerRecordPath(paths, layer.diffId), record);
        ensureLayerAlias(paths, layer.diffId);
        actions.push({
          kind: 'layer',
          id: layer.diffId,
          done: true,
          detail:
            'record rebuilt from the tree, which matches its manifest (the image’s original owners and modes are not known any more)',
        });
        continue;
      }
      const { sources, pulled } = candidateSources(paths, layer.diffId, report, from);
      const used = await reextractLayer(paths, layer.diffId, workDir, archives, sources);
      actions.push(
        used !== undefined
          ? {
              kind: 'layer',
              id: layer.diffId,
              done: true,
              detail: `extracted again from ${escapeName(used)}`,
            }
          : {
              kind: 'layer',
              id: layer.diffId,
              done: false,
              detail: missingSourceHint(layer.diffId, sources, pulled),
            },
      );
    }
  } finally {
    removeTree(workDir);
  }
  return actions;
}

function isCleanTree(layer: VerifyReport['layers'][number]): boolean {
  return layer.corrupted.length === 0 && layer.missing.length === 0 && layer.extra.length === 0;
}
