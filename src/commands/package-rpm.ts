/**
 * `pilot package --format rpm`: the same content and scriptlets as the .deb, built with
 * rpmbuild from the same staged tree. RPM runs the new package's %post before the old
 * one's %preun on an upgrade, and tells them apart by `$1` (installed instances after the
 * operation): %post registers on every install and upgrade, %preun removes the
 * registration only when the last instance goes (`$1` = 0).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PilotError } from '../core/errors.js';
import { runToolSync } from '../core/tool.js';
import { configureLines, type PackageFields, removeLines } from './package-deb.js';

const RPM_ARCHES: Record<string, string> = {
  all: 'noarch',
  amd64: 'x86_64',
  arm64: 'aarch64',
  i386: 'i686',
  armhf: 'armv7hl',
  ppc64el: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** RPM's architecture for a Debian one (`all` is `noarch`). */
export function rpmArchitecture(debArch: string): string {
  const arch = RPM_ARCHES[debArch];
  if (arch === undefined) {
    throw new PilotError('PILOT_PACKAGE_FAILED', `no RPM architecture for "${debArch}"`, {
      hint: 'build a .deb, or package without --with-images',
    });
  }
  return arch;
}

/** RPM has no epoch in a file name and no `-` in a version: `[E:]V[-R]` → version V, release R (default 1). */
export function rpmVersion(version: string): { version: string; release: string } {
  const plain = version.replace(/^\d+:/, '');
  const dash = plain.lastIndexOf('-');
  const [v, r] = dash === -1 ? [plain, '1'] : [plain.slice(0, dash), plain.slice(dash + 1)];
  return { version: v.replaceAll('-', '_'), release: r };
}

export interface SpecFields extends PackageFields {
  /** Absolute paths of the files the package installs. */
  files: string[];
  /** Directories it owns (its own data directory and those below). */
  dirs: string[];
  /** The staged tree %install copies. */
  stagedRoot: string;
}

/** A spec-file word: `%` doubled so that rpm expands nothing the app or a path holds. */
function literal(value: string): string {
  return value.replaceAll('%', '%%').replace(/[\r\n]+/g, ' ');
}

export function specText(f: SpecFields): string {
  const { version, release } = rpmVersion(f.version);
  const script = (lines: string[]) => lines.map((line) => literal(line.replace(/^\t/, '')));
  return [
    `Name: ${f.name}`,
    `Version: ${version}`,
    `Release: ${release}`,
    `Summary: ${literal(f.app)} as a host command, run by pilot from its container image`,
    'License: NONE',
    `BuildArch: ${rpmArchitecture(f.architecture)}`,
    `Requires: pilot >= ${f.pilotVersion}`,
    'AutoReqProv: no',
    '',
    '%description',
    'Registers the app with pilot on install (its flake, its link) and removes the',
    'registration on removal; the images stay in pilot\'s store until "pilot gc".',
    '',
    '%install',
    `cp -a ${literal(f.stagedRoot)}/. %{buildroot}/`,
    '',
    '%post',
    'set -e',
    ...script(configureLines(f.app, f.images)),
    '',
    '%preun',
    'set -e',
    'if [ "$1" -eq 0 ]; then',
    ...script(removeLines(f.name, f.app, f.appPath)).map((line) => `\t${line}`),
    'fi',
    '',
    '%files',
    '%defattr(-,root,root,-)',
    ...f.dirs.map((dir) => `%dir "${literal(dir)}"`),
    ...f.files.map((file) => `"${literal(file)}"`),
    '',
  ].join('\n');
}

/** Builds the .rpm of `spec` in `work`; returns its path. */
export function runRpmbuild(work: string, spec: string): string {
  // Before the spec is written: a missing rpmbuild is said first.
  runToolSync(['rpmbuild', '--version'], { purpose: 'cannot build an .rpm package' });
  const specFile = join(work, 'app.spec');
  writeFileSync(specFile, spec);
  const out = join(work, 'rpms');
  mkdirSync(out);
  runToolSync(
    [
      'rpmbuild',
      '-bb',
      '--quiet',
      '--define',
      `_topdir ${join(work, 'rpmbuild')}`,
      '--define',
      `_rpmdir ${out}`,
      '--define',
      '_build_id_links none',
      '--define',
      'debug_package %{nil}',
      '--define',
      '__os_install_post %{nil}',
      specFile,
    ],
    {
      purpose: 'cannot build the .rpm package',
      code: 'PILOT_PACKAGE_FAILED',
      hint: "the message above ends with rpmbuild's",
    },
  );
  const arch = readdirSync(out)[0];
  const built = arch === undefined ? undefined : readdirSync(join(out, arch))[0];
  if (arch === undefined || built === undefined) {
    throw new PilotError('PILOT_PACKAGE_FAILED', 'rpmbuild wrote no package', {
      hint: 'run it again with --json to see what was staged',
    });
  }
  return join(out, arch, built);
}
