/**
 * Builds images for the store tests in memory: layer tars (crafted entry by entry, so
 * hostile headers are possible), configs, manifests, and the three archive forms.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { buildSync } from 'esbuild';
import { outputFileSync } from 'fs-extra/esm';
import { type PilotPaths, resolvePaths } from '../../src/core/paths.js';
import type { ArchiveFiles } from '../../src/store/archive-source.js';
import { encodeTar, type TarEntrySpec } from '../../src/store/tar-write.js';

export const isRoot = process.getuid?.() === 0;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface TempStore {
  dir: string;
  paths: PilotPaths;
  cleanup(): void;
}

/** A fresh PILOT_ROOT; everything a test writes stays under `dir`. */
export function tempStore(prefix = 'pilot-store-'): TempStore {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {
    dir,
    paths: resolvePaths({ root: join(dir, 'root') }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The store's tmp/ entries (should be empty after every load, good or bad). */
export function tmpEntries(paths: PilotPaths): string[] {
  const tmp = join(paths.store, 'tmp');
  return existsSync(tmp) ? readdirSync(tmp) : [];
}

export interface TestLayer {
  /** What goes into the archive (maybe gzip). */
  blob: Buffer;
  digest: string;
  diffId: string;
  gzip: boolean;
}

export function makeLayer(
  entries: TarEntrySpec[] | Buffer,
  options: { gzip?: boolean } = {},
): TestLayer {
  const tar = Buffer.isBuffer(entries) ? entries : encodeTar(entries);
  const gzip = options.gzip ?? true;
  const blob = gzip ? gzipSync(tar) : tar;
  return { blob, digest: sha256(blob), diffId: sha256(tar), gzip };
}

export interface TestImage {
  layers: TestLayer[];
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
}

export function makeImage(
  layers: TestLayer[],
  options: { config?: Record<string, unknown>; diffIds?: string[] } = {},
): TestImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: options.config ?? { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: options.diffIds ?? layers.map((layer) => layer.diffId) },
      // makes every test image distinct even with equal layers
      created: new Date().toISOString(),
      comment: Math.random().toString(36),
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((layer) => ({
        mediaType: layer.gzip
          ? 'application/vnd.oci.image.layer.v1.tar+gzip'
          : 'application/vnd.oci.image.layer.v1.tar',
        digest: layer.digest,
        size: layer.blob.length,
      })),
    }),
  );
  return { layers, config, configDigest, manifest, manifestDigest: sha256(manifest) };
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

/** The files of an OCI layout for these images: name → content. */
export function ociFiles(
  images: { image: TestImage; refName?: string | undefined }[],
): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  files.set('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  const manifests = images.map(({ image, refName }) => {
    files.set(`blobs/sha256/${hex(image.configDigest)}`, image.config);
    files.set(`blobs/sha256/${hex(image.manifestDigest)}`, image.manifest);
    for (const layer of image.layers) files.set(`blobs/sha256/${hex(layer.digest)}`, layer.blob);
    return {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: image.manifestDigest,
      size: image.manifest.length,
      ...(refName ? { annotations: { 'org.opencontainers.image.ref.name': refName } } : {}),
    };
  });
  files.set('index.json', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests })));
  return files;
}

/** docker save's layout: manifest.json, `<hex>.json` config, `<hex>/layer.tar` layers. */
export function dockerFiles(
  images: { image: TestImage; repoTags?: string[] }[],
  options: { layerNames?: 'legacy' | 'blobs' } = {},
): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const manifest = images.map(({ image, repoTags }) => {
    files.set(`${hex(image.configDigest)}.json`, image.config);
    const layers = image.layers.map((layer) => {
      const name =
        options.layerNames === 'blobs'
          ? `blobs/sha256/${hex(layer.digest)}`
          : `${hex(layer.diffId).slice(0, 40)}/layer.tar`;
      files.set(name, layer.blob);
      return name;
    });
    return {
      Config: `${hex(image.configDigest)}.json`,
      RepoTags: repoTags ?? null,
      Layers: layers,
    };
  });
  files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
  return files;
}

export function tarOf(files: Map<string, Buffer>): Buffer {
  return encodeTar([...files].map(([path, body]) => ({ path, body })));
}

export function writeTree(dir: string, files: Map<string, Buffer>): void {
  for (const [path, body] of files) outputFileSync(join(dir, path), body);
}

export function getfattr(path: string, name: string): string | undefined {
  try {
    return execFileSync('getfattr', ['-h', '--only-values', '-n', name, path], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString();
  } catch {
    return undefined;
  }
}

const here = dirname(fileURLToPath(import.meta.url));

const bundleOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  logLevel: 'error',
  banner: {
    js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  },
} as const;

/** Bundles a TypeScript entry into one .mjs that a child `node` can run. */
export function bundleScript(entry: string, outDir: string): string {
  const outfile = join(outDir, `${entry.replace(/\W+/g, '-')}.mjs`);
  buildSync({ ...bundleOptions, entryPoints: [join(here, entry)], outfile });
  return outfile;
}

/** The absolute path of a source file under src/, for the imports of a snippet. */
export function sourceFile(path: string): string {
  return JSON.stringify(join(here, '../../src', path));
}

/** Bundles a TypeScript snippet (importing `sourceFile(...)`) into `outfile`. */
export function bundleSnippet(source: string, outfile: string): string {
  buildSync({
    ...bundleOptions,
    stdin: { contents: source, resolveDir: here, loader: 'ts' },
    outfile,
  });
  return outfile;
}

/** A rootfs-like layer: a few dirs and files. */
export function simpleLayer(tag: string, options: { gzip?: boolean } = {}): TestLayer {
  return makeLayer(
    [
      { path: 'etc/', type: 'dir' },
      { path: `etc/${tag}`, body: `${tag}\n` },
      { path: 'usr/', type: 'dir' },
      { path: 'usr/bin/', type: 'dir' },
      { path: `usr/bin/${tag}`, body: `#!/bin/sh\necho ${tag}\n`, mode: 0o755 },
    ],
    options,
  );
}

/** An archive's files held in memory, as readImagePlans reads them (no tar, no directory). */
export function memoryArchive(files: Map<string, Buffer>, source = 'image.tar'): ArchiveFiles {
  return {
    source,
    has: (name) => files.has(name),
    get: (name) => {
      const data = files.get(name);
      return data === undefined
        ? undefined
        : { describe: `${source}:${name}`, size: data.length, open: () => Readable.from([data]) };
    },
  };
}
