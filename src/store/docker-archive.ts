/**
 * Reading a docker-archive (`docker save`, `podman save --format docker-archive`):
 * manifest.json lists each image's config, layer tarballs and names (RepoTags). Each
 * config is read, checked against the digest its name carries and parsed once, however
 * many entries name it (archive-metadata.ts).
 */
import { escapeExcerpt } from '../core/excerpt.js';
import { normalizeRef } from '../core/image-record.js';
import type { ImagePlan } from './archive-images.js';
import {
  type ConfigInfo,
  checkCount,
  configInfo,
  digestMismatch,
  invalid,
  MAX_IMAGE_NAMES,
  type MetadataReader,
  readImageList,
  sha256,
} from './archive-metadata.js';
import type { ArchiveFiles } from './archive-source.js';
import { repoTagNames, type Warn } from './ref-names.js';

interface DockerManifestEntry {
  Config?: string;
  RepoTags?: string[] | null;
  Layers?: string[];
}

/** `blobs/sha256/<hex>` and `<hex>.json` name their content's digest: check it. */
function digestInName(name: string): string | undefined {
  const match = /(?:^|\/)(?:blobs\/sha256\/)?([a-f0-9]{64})(?:\.json)?$/.exec(name);
  return match && (name.includes('blobs/sha256/') || name.endsWith('.json'))
    ? `sha256:${match[1]}`
    : undefined;
}

/** A docker-archive config, by its name in manifest.json, read and checked once. */
function dockerConfig(reader: MetadataReader, name: string): Promise<ConfigInfo> {
  return reader.once(`docker config ${name}`, async () => {
    // Names from manifest.json go into messages escaped; files are looked up by the real one.
    const shown = escapeExcerpt(name);
    const config = await reader.read(name);
    if (!config) throw invalid(reader.source, `config ${shown} is missing`);
    const configDigest = sha256(config);
    const named = digestInName(name);
    if (named && named !== configDigest) {
      throw digestMismatch(`${reader.source}: config ${shown}`, configDigest, named);
    }
    return configInfo(reader, name, config, configDigest);
  });
}

export async function readDockerImages(
  files: ArchiveFiles,
  given: string | undefined,
  warn: Warn,
): Promise<ImagePlan[]> {
  const { reader, list } = await readImageList<DockerManifestEntry>(files, 'manifest.json');
  const source = reader.source;
  const plans: ImagePlan[] = [];
  for (const entry of list) {
    if (
      typeof entry.Config !== 'string' ||
      !Array.isArray(entry.Layers) ||
      !entry.Layers.every((name) => typeof name === 'string')
    ) {
      throw invalid(source, 'manifest.json has an entry without Config or Layers');
    }
    const configName = escapeExcerpt(entry.Config);
    const config = await dockerConfig(reader, entry.Config);
    if (config.diffIds.length !== entry.Layers.length) {
      throw invalid(
        source,
        `manifest.json lists ${entry.Layers.length} layers for ${configName} but its config lists ${config.diffIds.length} diff_ids`,
      );
    }
    if (entry.RepoTags != null && !Array.isArray(entry.RepoTags)) {
      throw invalid(source, `manifest.json: the RepoTags of ${configName} are not a list`);
    }
    checkCount(
      source,
      `manifest.json: the RepoTags of ${configName}`,
      entry.RepoTags?.length ?? 0,
      MAX_IMAGE_NAMES,
      'names',
    );
    const names = repoTagNames(source, configName, entry.RepoTags ?? [], warn);
    if (given !== undefined) names.push(normalizeRef(given));
    plans.push({
      names,
      manifest: undefined,
      manifestDigest: undefined,
      config: config.config,
      configDigest: config.configDigest,
      imageConfig: config.imageConfig,
      layers: entry.Layers.map((name, i) => ({
        diffId: config.diffIds[i]!,
        blob: files.get(name),
        digest: name.includes('blobs/sha256/') ? digestInName(name) : undefined,
        blobName: escapeExcerpt(name),
      })),
    });
  }
  return plans;
}
