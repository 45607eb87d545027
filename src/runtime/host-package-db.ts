/**
 * The host's package database (host-packages.ts resolves over it): dpkg read as files,
 * rpm asked through its own queries, or none; chosen by the host root and
 * PILOT_HOST_PACKAGES (core/host-root.ts, docs/design.md "The host root").
 */
import { type BigIntStats, readFileSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { errnoOf, PilotError } from '../core/errors.js';
import { identityOfStats } from '../core/file-identity.js';
import type { PackageManagerChoice } from '../core/host-root.js';
import { ToolError } from '../core/tool-error.js';
import { runToolLight } from '../core/tool-light.js';
import {
  DpkgIndex,
  type DpkgPackage,
  type HostPackage,
  normalizeListedPath,
  type PackageDatabase,
  parseDpkgStatus,
  push,
} from './host-packages.js';

function statOrUndefined(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true });
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

/**
 * dpkg: `status` is rewritten (a new inode) by every install, upgrade and removal, after
 * the `.list` files; its identity stands for the whole database. Parsed only on demand,
 * so that a launch with a cached resolution pays one stat.
 */
export class DpkgDatabase implements PackageDatabase {
  readonly kind = 'dpkg';
  private index: DpkgIndex | undefined;

  constructor(private readonly dir: string) {}

  fingerprint(): string {
    return `dpkg:${identityOfStats(statOrUndefined(`${this.dir}/status`))}`;
  }

  watched(): string[] {
    return [`${this.dir}/status`];
  }

  private load(): DpkgIndex {
    this.index ??= new DpkgIndex(parseDpkgStatus(readFileSync(`${this.dir}/status`, 'utf8')));
    return this.index;
  }

  find(name: string): (HostPackage & { pkg: DpkgPackage }) | undefined {
    const pkg = this.load().find(name);
    return pkg ? { id: `${pkg.name}:${pkg.arch}`, name: pkg.name, pkg } : undefined;
  }

  dependencies(pkg: HostPackage): string[][] {
    return (pkg as HostPackage & { pkg: DpkgPackage }).pkg.depends;
  }

  files(pkg: HostPackage): string[] {
    const { arch } = (pkg as HostPackage & { pkg: DpkgPackage }).pkg;
    // Multi-Arch: same packages keep `<pkg>:<arch>.list`, the others `<pkg>.list`.
    const candidates = [`${pkg.name}:${arch}.list`, `${pkg.name}.list`];
    for (const name of arch ? candidates : candidates.slice(1)) {
      let text: string;
      try {
        text = readFileSync(posix.join(this.dir, 'info', name), 'utf8');
      } catch (error) {
        if (errnoOf(error) === 'ENOENT') continue;
        throw error;
      }
      return text.split('\n').flatMap((line) => normalizeListedPath(line) ?? []);
    }
    return [];
  }
}

export type RunTool = (args: string[]) => { status: number | null; stdout: string };

/**
 * One rpm query. Its exit status is an answer (a file no package owns, a package not
 * installed); an rpm that dies is a ToolError that names it; a missing rpm is status null,
 * which the database turns into its own error (what it could not list, and the switch).
 */
function runRpm(args: string[]): { status: number | null; stdout: string } {
  try {
    const r = runToolLight(['rpm', ...args], {
      purpose: "cannot query the host's rpm database",
      maxBuffer: 256 * 1024 * 1024,
      okExitCodes: 'any',
    });
    return { status: r.exitCode, stdout: r.stdout };
  } catch (error) {
    if (error instanceof ToolError && error.missing) return { status: null, stdout: '' };
    throw error;
  }
}

/**
 * rpm, through its own queries (its database is not a text file): one query lists
 * what every installed package provides and requires; file lists are asked per package.
 * Every query names the database (`--dbpath`, inside `--root` for a host root other
 * than /): rpm's own default differs between distributions (Debian's is `~/.rpmdb`).
 */
export class RpmDatabase implements PackageDatabase {
  readonly kind = 'rpm';
  private tables:
    | { names: Set<string>; provides: Map<string, string>; requires: Map<string, string[]> }
    | undefined;
  private readonly where: string[];

  constructor(
    private readonly dbFiles: readonly string[],
    private readonly run: RunTool = runRpm,
    location: { root?: string; dbpath?: string } = {},
  ) {
    this.where = [
      ...(location.root && location.root !== '/' ? ['--root', location.root] : []),
      ...(location.dbpath ? ['--dbpath', location.dbpath] : []),
    ];
  }

  private query(args: string[]): { status: number | null; stdout: string } {
    const out = this.run([...this.where, ...args]);
    if (out.status === null) {
      throw new PilotError(
        'PILOT_HOST_FILES_MISSING',
        'rpm is not installed, so the host packages this app needs cannot be listed',
        {
          hint: 'install rpm, or set PILOT_HOST_PACKAGES=dpkg (or none) to read another database',
          exitCode: 127,
        },
      );
    }
    return out;
  }

  fingerprint(): string {
    return `rpm:${this.dbFiles.map((f) => identityOfStats(statOrUndefined(f))).join(',')}`;
  }

  watched(): string[] {
    return [...this.dbFiles];
  }

  private load() {
    if (this.tables) return this.tables;
    const names = new Set<string>();
    const provides = new Map<string, string>();
    const requires = new Map<string, string[]>();
    const out = this.query([
      '-qa',
      '--qf',
      '[P\t%{=NAME}\t%{PROVIDENAME}\n][R\t%{=NAME}\t%{REQUIRENAME}\n]',
    ]);
    for (const line of out.stdout.split('\n')) {
      const [kind, name, capability] = line.split('\t');
      if (!name || !capability) continue;
      names.add(name);
      if (kind === 'P' && !provides.has(capability)) provides.set(capability, name);
      if (kind === 'R' && !capability.startsWith('rpmlib(')) push(requires, name, capability);
    }
    this.tables = { names, provides, requires };
    return this.tables;
  }

  find(name: string): HostPackage | undefined {
    const { names, provides } = this.load();
    if (names.has(name)) return { id: name, name };
    const provider = provides.get(name);
    if (provider) return { id: provider, name: provider };
    if (name.startsWith('/')) {
      const owner = this.query(['-qf', '--qf', '%{NAME}\n', name]);
      const first = owner.stdout.split('\n')[0]?.trim();
      if (owner.status === 0 && first && names.has(first)) return { id: first, name: first };
    }
    return undefined;
  }

  dependencies(pkg: HostPackage): string[][] {
    return (this.load().requires.get(pkg.name) ?? []).map((capability) => [capability]);
  }

  files(pkg: HostPackage): string[] {
    const out = this.query(['-ql', '--noghost', pkg.name]);
    if (out.status !== 0) return [];
    return out.stdout.split('\n').flatMap((line) => normalizeListedPath(line) ?? []);
  }
}

/** A host without a package database: nothing is installed (until dpkg's status appears). */
export class NoDatabase implements PackageDatabase {
  readonly kind = 'none';
  constructor(private readonly statusFile = '/var/lib/dpkg/status') {}
  fingerprint(): string {
    return 'none';
  }
  watched(): string[] {
    return [this.statusFile];
  }
  find(): undefined {
    return undefined;
  }
  dependencies(): string[][] {
    return [];
  }
  files(): string[] {
    return [];
  }
}

/** Where rpm databases live (SUSE and Fedora: the first; older and Debian-made roots: the second). */
const RPM_DB_DIRS = ['/usr/lib/sysimage/rpm', '/var/lib/rpm'];
/** The files of one, by backend: sqlite (with its write-ahead log), ndb, bdb. */
const RPM_DB_FILES = ['rpmdb.sqlite', 'rpmdb.sqlite-wal', 'Packages.db', 'Packages'];

/** The rpm database inside `hostRoot`: its dir (as rpm's --dbpath) and files, if it has one. */
function findRpmDatabase(hostRoot: string): { dbpath: string; files: string[] } | undefined {
  for (const dbpath of RPM_DB_DIRS) {
    const files = RPM_DB_FILES.map((f) => posix.join(hostRoot, dbpath, f));
    if (files.some((f) => statOrUndefined(f))) return { dbpath, files };
  }
  return undefined;
}

/**
 * The package database of the host root (core/host-root.ts): `auto` takes dpkg when the
 * root has `var/lib/dpkg/status`, else rpm when it has an rpm database, else none; `dpkg`
 * and `rpm` take that one (a root without it has nothing installed).
 */
export function openHostPackageDatabase(
  hostRoot = '/',
  choice: PackageManagerChoice = 'auto',
): PackageDatabase {
  const dpkgDir = posix.join(hostRoot, 'var/lib/dpkg');
  const none = new NoDatabase(`${dpkgDir}/status`);
  if (choice === 'none') return none;
  if (choice !== 'rpm' && statOrUndefined(`${dpkgDir}/status`)) return new DpkgDatabase(dpkgDir);
  if (choice === 'dpkg') return none;
  const rpm = findRpmDatabase(hostRoot);
  if (rpm) return new RpmDatabase(rpm.files, runRpm, { root: hostRoot, dbpath: rpm.dbpath });
  if (choice === 'rpm') {
    // An rpm database may appear later: watch where it would be.
    const files = RPM_DB_DIRS.flatMap((dir) =>
      RPM_DB_FILES.map((f) => posix.join(hostRoot, dir, f)),
    );
    return new RpmDatabase(files, runRpm, { root: hostRoot, dbpath: RPM_DB_DIRS[0] });
  }
  return none;
}

/** How to install a package on this host, for hints. */
export function installHint(kind: string, names: readonly string[]): string {
  const list = names.join(' ');
  if (kind === 'rpm')
    return `install it on the host ("dnf install ${list}" or "zypper install ${list}")`;
  return `install it on the host ("apt-get install ${list}")`;
}
