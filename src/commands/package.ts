/**
 * `pilot package APP`: a .deb that registers APP on the host that installs it. It holds
 * the app's flake as registered (pins included) and its drop-ins under
 * /usr/share/pilot/apps/APP/ (pilot's data: dpkg never owns or replaces the live flake
 * under /usr/share/flakes, which the postinst writes by rename), the include tars the
 * flake names at their own paths, and with --with-images the pinned images as
 * oci-archives (package-images.ts). Control file and scripts: package-deb.ts.
 * Everything is staged in a private directory beside the output and the .deb is renamed
 * into place: a failure leaves no package and no stage.
 */
import {
  accessSync,
  chmodSync,
  constants,
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { removeSync } from 'fs-extra/esm';
import { errnoOf, PilotError } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import { type Flake, flakeFromSources, readFlakeSources } from '../core/flake-file.js';
import { type ImageRecord, listRefs, normalizeRef, refCandidates } from '../core/image-record.js';
import { makeDirs } from '../core/modes.js';
import { digestHex, type PilotPaths, storeDirs } from '../core/paths.js';
import { runToolSync } from '../core/tool.js';
import { treeSize } from '../core/tree-size.js';
import { flakeImages } from '../runtime/launch.js';
import {
  appDataDir,
  controlText,
  debArchitecture,
  debPackageName,
  type PackageFields,
  type PinnedImage,
  packageVersion,
  postinstScript,
  prermScript,
} from './package-deb.js';
import { exportImage } from './package-images.js';
import { runRpmbuild, specText } from './package-rpm.js';
import { pinnedRefs } from './update-plan.js';

export interface PackageOptions {
  withImages: boolean;
  format: 'deb' | 'rpm';
  outDir: string;
  version?: string | undefined;
  now?: Date;
}

export interface PackageResult {
  file: string;
  package: string;
  version: string;
  architecture: string;
  size: number;
  images: { ref: string; id: string; file?: string; size?: number; originalManifest?: boolean }[];
}

function failed(message: string, hint: string, cause?: unknown): PilotError {
  return new PilotError('PILOT_PACKAGE_FAILED', message, { hint, cause });
}

/** Every ref of the app pinned, each image in the store: what a package must carry. */
function pinnedImages(
  paths: PilotPaths,
  app: string,
  flake: Flake,
): { ref: string; image: ImageRecord }[] {
  const c = flake.container;
  const refs = [c.name, ...c.layers, ...(c.base_container ? [c.base_container] : [])];
  const unpinned = refs.filter((ref) => c.digests[ref] === undefined);
  if (unpinned.length > 0 || pinnedRefs(flake).length === 0) {
    throw failed(
      `app ${escapeName(app)} pins no image digest for ${unpinned.map((r) => `"${escapeName(r)}"`).join(', ')}: a package must name the exact images`,
      `pin them: "pilot register --force ..." again, or "pilot migrate" for a flake-pilot app`,
    );
  }
  const images = flakeImages(paths, flake);
  const byRef = new Map<string, ImageRecord>([[c.name, images.top]]);
  for (const [i, ref] of c.layers.entries()) byRef.set(ref, images.layers[i]!);
  if (c.base_container && images.base) byRef.set(c.base_container, images.base);
  return [...byRef].map(([ref, image]) => ({ ref, image }));
}

/** The full name an archive gives the image: the store's name the flake's ref resolves to, else the ref. */
function archiveName(paths: PilotPaths, ref: string): string {
  const names = listRefs(paths);
  return refCandidates(ref).find((candidate) => names.has(candidate)) ?? normalizeRef(ref);
}

function checkTools(outDir: string, format: 'deb' | 'rpm'): void {
  // Before anything is staged: a missing dpkg-deb is said first, not after the copying.
  if (format === 'deb') {
    runToolSync(['dpkg-deb', '--version'], { purpose: 'cannot build a .deb package' });
  }
  try {
    if (!statSync(outDir).isDirectory())
      throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(outDir, constants.W_OK);
  } catch (error) {
    const code = errnoOf(error);
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'ENOTDIR'
          ? 'is not a directory'
          : 'is not writable';
    throw new PilotError('PILOT_USAGE', `output directory ${escapeName(outDir)} ${why}`, {
      hint: 'give a writable directory with -o DIR',
      cause: error,
    });
  }
}

function imageArchitecture(
  paths: PilotPaths,
  image: ImageRecord,
): { architecture?: string; variant?: string } {
  try {
    return JSON.parse(readFileSync(join(storeDirs.blobs(paths), digestHex(image.id)), 'utf8'));
  } catch {
    return {};
  }
}

/** A staged file with exactly `mode` (the umask of whoever packages must not reach the package). */
function put(path: string, text: string | undefined, mode = 0o644, from?: string): void {
  makeDirs(dirname(path));
  if (from !== undefined) copyFileSync(from, path);
  else writeFileSync(path, text ?? '');
  chmodSync(path, mode);
}

function buildDeb(
  stage: string,
  root: string,
  b: PackageFields,
  more: { outDir: string; withImages: boolean; images: string[] },
): string {
  const file = join(
    more.outDir,
    `${b.name}_${b.version.replace(/^\d+:/, '')}_${b.architecture}.deb`,
  );
  const debian = join(root, 'DEBIAN');
  put(join(debian, 'postinst'), postinstScript(b.app, b.images), 0o755);
  put(join(debian, 'prerm'), prermScript(b.app, b.appPath), 0o755);
  const maintainer = process.env.DEBEMAIL
    ? `${process.env.DEBFULLNAME ?? 'pilot package'} <${process.env.DEBEMAIL}>`
    : `pilot package <root@${hostname()}>`;
  put(
    join(debian, 'control'),
    controlText({
      package: b.name,
      version: b.version,
      architecture: b.architecture,
      pilotVersion: b.pilotVersion,
      // Installed-Size: KiB of the tree's apparent size, as dpkg-gencontrol counts it.
      installedSizeKiB: Math.ceil(treeSize(root) / 1024),
      maintainer,
      app: b.app,
      images: more.images,
    }),
  );
  const temp = join(stage, 'out.deb');
  // Images are tar archives of mostly compressed blobs: gzip spends far less time on them than xz.
  const compression = more.withImages ? ['-Zgzip'] : [];
  runToolSync(['dpkg-deb', '--root-owner-group', ...compression, '--build', root, temp], {
    purpose: `cannot build ${escapeName(file)}`,
    code: 'PILOT_PACKAGE_FAILED',
    hint: "the message above ends with dpkg-deb's",
  });
  renameSync(temp, file);
  return file;
}

/** Every file below `root` (absolute in the package) and the directories below the app's data dir. */
function stagedEntries(root: string, dataDir: string): { files: string[]; dirs: string[] } {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (path === dataDir || path.startsWith(`${dataDir}/`)) dirs.push(path);
        walk(path);
      } else files.push(path);
    }
  };
  walk('');
  return { files, dirs };
}

function buildRpm(stage: string, root: string, b: PackageFields, outDir: string): string {
  const { files, dirs } = stagedEntries(root, appDataDir(b.app));
  const built = runRpmbuild(stage, specText({ ...b, files, dirs, stagedRoot: root }));
  const file = join(outDir, basename(built));
  renameSync(built, file);
  return file;
}

export async function buildAppPackage(
  paths: PilotPaths,
  appArg: string,
  options: PackageOptions,
  pilotVersion: string,
): Promise<PackageResult> {
  const app = basename(appArg);
  const sources = readFlakeSources(paths.flakes, app);
  const { flake } = flakeFromSources(sources);
  const name = debPackageName(app);
  const appPath = flake.container.host_app_path;
  if (appPath === undefined) {
    throw failed(
      `app ${escapeName(app)} has no host_app_path in its flake`,
      'register it with --app PATH',
    );
  }
  const pinned = pinnedImages(paths, app, flake);
  const outDir = resolve(options.outDir);
  checkTools(outDir, options.format);
  const version = packageVersion(flake.container.name, options.version, options.now ?? new Date());
  const arches = options.withImages
    ? [
        ...new Set(
          pinned.map((p) => {
            const a = imageArchitecture(paths, p.image);
            return debArchitecture(a.architecture, a.variant);
          }),
        ),
      ]
    : ['all'];
  if (arches.length > 1) {
    throw failed(
      `the images of ${escapeName(app)} are for several architectures (${arches.join(', ')})`,
      'package without --with-images',
    );
  }
  const architecture = arches[0]!;

  const stage = mkdtempSync(join(outDir, '.pilot-package-'));
  try {
    const root = join(stage, 'root');
    const data = join(root, appDataDir(app));
    put(join(data, `${app}.yaml`), sources[0]!.text);
    for (const source of sources.slice(1)) {
      put(join(data, `${app}.d`, basename(source.file)), source.text);
    }
    for (const tar of flake.include.tar) put(join(root, tar), undefined, 0o644, tar);
    const images: PackageResult['images'] = [];
    if (options.withImages) {
      makeDirs(join(data, 'images'));
      const done = new Set<string>();
      for (const [i, { ref, image }] of pinned.entries()) {
        if (done.has(image.id)) {
          images.push({ ref, id: image.id });
          continue;
        }
        done.add(image.id);
        const out = join(data, 'images', `${i}-${digestHex(image.id).slice(0, 12)}.tar`);
        const exported = await exportImage(paths, image, archiveName(paths, ref), out);
        chmodSync(out, 0o644);
        images.push({
          ref,
          id: image.id,
          file: `${appDataDir(app)}/images/${basename(out)}`,
          size: exported.size,
          originalManifest: exported.original,
        });
      }
    } else {
      for (const { ref, image } of pinned) images.push({ ref, id: image.id });
    }
    // Pulled by the full name the store knows (a short name is never pulled: DESIGN, Command line).
    const pulls: PinnedImage[] = pinned.map(({ ref, image }) => ({
      ref: archiveName(paths, ref),
      id: image.id,
      manifestDigest: image.manifestDigest,
    }));
    const scripts = options.withImages ? ('shipped' as const) : pulls;
    const file =
      options.format === 'rpm'
        ? buildRpm(
            stage,
            root,
            { name, version, architecture, pilotVersion, app, appPath, images: scripts },
            outDir,
          )
        : buildDeb(
            stage,
            root,
            { name, version, architecture, pilotVersion, app, appPath, images: scripts },
            {
              outDir,
              withImages: options.withImages,
              images: pinned.map(({ ref, image }) => `${ref} ${image.id}`),
            },
          );
    return { file, package: name, version, architecture, size: statSync(file).size, images };
  } finally {
    removeSync(stage);
  }
}
