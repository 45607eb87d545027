/**
 * `pilot package`, the pure part: the package's name, version and architecture, its
 * control file and its maintainer scripts (POSIX sh). package.ts stages the files and
 * runs dpkg-deb.
 *
 * The scripts: postinst `configure` (install and upgrade alike) brings the pinned images
 * into the store (loads the shipped archives, or pulls `REF@DIGEST` of each image the
 * store lacks), then `pilot register --force --from-flake` the shipped flake: the flake
 * and the link are replaced by rename, so on an upgrade the app runs the old images until
 * the new flake is in place and the new ones after, never "command not found". prerm
 * `remove` (not `upgrade`) removes the registration; images stay until `pilot gc`.
 */
import { PilotError } from '../core/errors.js';

/** Where an app package ships its flake, drop-ins and images (pilot's data, not the live flakes dir). */
export function appDataDir(app: string): string {
  return `/usr/share/pilot/apps/${app}`;
}

const DEB_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
/** Debian policy 5.6.12: [epoch:]upstream[-revision], upstream starting with a digit. */
const DEB_VERSION = /^(\d+:)?\d[A-Za-z0-9.+~-]*$/;

/** `pilot-app-NAME`: Debian allows lower case, digits and `+-.` only; `_` becomes `-`. */
export function debPackageName(app: string): string {
  const name = `pilot-app-${app.toLowerCase().replaceAll('_', '-')}`;
  if (!DEB_NAME.test(name)) {
    throw new PilotError(
      'PILOT_USAGE',
      `app "${app}" gives no valid Debian package name (${name})`,
      {
        hint: 'Debian package names hold lower-case letters, digits and "+-." only: register the app under such a name',
      },
    );
  }
  return name;
}

/** The tag of `ref` when it reads as a version (`1.2.3`, `v2.0`), without a leading `v`. */
export function versionFromRef(ref: string): string | undefined {
  const at = ref.indexOf('@');
  const name = at === -1 ? ref : ref.slice(0, at);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon <= slash) return undefined;
  const match = /^v?(\d[A-Za-z0-9.+~]*)$/.exec(name.slice(colon + 1));
  return match?.[1];
}

/** `--version` when given, else the image's tag when it is a version, else `0.0.0+pilot.<UTC date and time>`. */
export function packageVersion(ref: string, given: string | undefined, now: Date): string {
  if (given !== undefined) {
    if (!DEB_VERSION.test(given)) {
      throw new PilotError('PILOT_USAGE', `--version "${given}" is not a Debian version`, {
        hint: 'a version starts with a digit and holds letters, digits and ".+~-" only, e.g. --version 1.2.0',
      });
    }
    return given;
  }
  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 14);
  return versionFromRef(ref) ?? `0.0.0+pilot.${stamp}`;
}

const DEB_ARCHES: Record<string, string> = {
  amd64: 'amd64',
  arm64: 'arm64',
  '386': 'i386',
  ppc64le: 'ppc64el',
  s390x: 's390x',
  riscv64: 'riscv64',
  mips64le: 'mips64el',
};

/** Debian's architecture for an image's (OCI/Go names); `arm` is armhf from v7 on, else armel. */
export function debArchitecture(architecture: string | undefined, variant?: string): string {
  if (architecture === 'arm') return variant === 'v5' || variant === 'v6' ? 'armel' : 'armhf';
  const arch = architecture === undefined ? undefined : DEB_ARCHES[architecture];
  if (arch === undefined) {
    throw new PilotError(
      'PILOT_PACKAGE_FAILED',
      `images of architecture "${architecture ?? '(none)'}" has no Debian architecture pilot knows`,
      {
        hint: 'package without --with-images: the package is then for every architecture and pulls its images',
      },
    );
  }
  return arch;
}

export interface ControlFields {
  package: string;
  version: string;
  architecture: string;
  pilotVersion: string;
  installedSizeKiB: number;
  maintainer: string;
  app: string;
  images: string[];
}

/** One line of a control field: no newline may end the field early. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ');
}

export function controlText(f: ControlFields): string {
  return [
    `Package: ${f.package}`,
    `Version: ${f.version}`,
    `Architecture: ${f.architecture}`,
    `Maintainer: ${oneLine(f.maintainer)}`,
    `Installed-Size: ${f.installedSizeKiB}`,
    `Depends: pilot (>= ${f.pilotVersion})`,
    'Section: misc',
    'Priority: optional',
    `Description: ${oneLine(f.app)} as a host command, run by pilot from its container image`,
    ' Registers the app with pilot on install (its flake, its link) and removes the',
    ' registration on removal; the images stay in pilot\'s store until "pilot gc".',
    ' Images:',
    ...f.images.map((image) => `  ${oneLine(image)}`),
    '',
  ].join('\n');
}

/** `value` as one single-quoted shell word. */
export function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}

/** A pinned image the package needs: its ref, its id and the manifest digest to pull it by. */
export interface PinnedImage {
  ref: string;
  id: string;
  manifestDigest: string;
}

/** What a package of one app is, whatever its format (package.ts fills it in). */
export interface PackageFields {
  name: string;
  version: string;
  architecture: string;
  pilotVersion: string;
  app: string;
  appPath: string;
  /** The images the maintainer scripts bring: shipped in the package, or pulled by pin. */
  images: 'shipped' | PinnedImage[];
}

/** The registry ref to pull a pinned image by: `REF@DIGEST` (a tag in REF is dropped, as podman does). */
export function pullRef(image: PinnedImage): string {
  const slash = image.ref.lastIndexOf('/');
  const colon = image.ref.lastIndexOf(':');
  const name = colon > slash ? image.ref.slice(0, colon) : image.ref;
  return `${name.split('@')[0]}@${image.manifestDigest}`;
}

/**
 * What installing (or upgrading) does, as shell lines indented one tab: bring the pinned
 * images into the store, then register from the shipped flake. Shared by the .deb's
 * postinst and the .rpm's %post.
 */
export function configureLines(app: string, images: 'shipped' | PinnedImage[]): string[] {
  const dir = appDataDir(app);
  const fetch =
    images === 'shipped'
      ? [
          '\t# The images shipped with the package (pilot load keeps what the store has already).',
          `\tfor archive in ${shellQuote(dir)}/images/*.tar; do`,
          '\t\tpilot load --quiet "$archive"',
          '\tdone',
        ]
      : [
          '\t# The pinned images, pulled by digest unless the store has them already.',
          ...images.map(
            (image) =>
              `\tpilot images --json | grep -q ${shellQuote(`"id": "${image.id}"`)} || pilot pull --quiet ${shellQuote(pullRef(image))}`,
          ),
        ];
  return [
    ...fetch,
    '\t# Replaces the flake and the link by rename: the app is never missing on an upgrade.',
    `\tpilot register --force --from-flake ${shellQuote(`${dir}/${app}.yaml`)}`,
  ];
}

/** What removing does: the registration goes, never failing the removal; images stay until gc. */
export function removeLines(packageName: string, app: string, appPath: string): string[] {
  return [
    `\tif ! pilot remove --app ${shellQuote(appPath)}; then`,
    `\t\techo ${shellQuote(`${packageName}: the registration of ${app} was not removed (see above); "pilot list" shows it`)} >&2`,
    '\tfi',
  ];
}

/**
 * A maintainer script that acts on one `$1` (dpkg also calls them with abort-upgrade,
 * failed-upgrade, …, which need nothing done) and does nothing on the others.
 */
function maintainerScript(script: string, app: string, action: string, lines: string[]): string {
  return [
    '#!/bin/sh',
    `# ${script} of ${debPackageName(app)}, written by pilot package`,
    'set -e',
    '',
    'case "$1" in',
    `${action})`,
    ...lines,
    '\t;;',
    'esac',
    'exit 0',
    '',
  ].join('\n');
}

export function postinstScript(app: string, images: 'shipped' | PinnedImage[]): string {
  return maintainerScript('postinst', app, 'configure', configureLines(app, images));
}

export function prermScript(app: string, appPath: string): string {
  return maintainerScript('prerm', app, 'remove', [
    '\t# Not on upgrade: the new version registers over this one. The images stay until "pilot gc".',
    ...removeLines(debPackageName(app), app, appPath),
  ]);
}
