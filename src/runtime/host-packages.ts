/**
 * Host packages: the files an app gets from the host's package database because its
 * flake names `container.host_packages` or an image's `/systemfiles` asks for them.
 *
 * flake-pilot ran `/systemfiles` from the container as a script, as root, on the host.
 * Here it is data: only the package queries below are understood, anything else is
 * refused with the image, line and content. The packages are then resolved with what
 * they depend on (Depends and Pre-Depends, recursively, installed ones only) from the
 * host's own database: dpkg's status file and `info/<pkg>.list` files, or rpm's
 * queries where there is no dpkg. Packages the base image already has (its own dpkg
 * status) are left to the image, together with what they pull in.
 *
 * Everything here is pure text processing except the two database adapters at the end.
 */
import { readFileSync, type Stats, statSync } from 'node:fs';
import { posix } from 'node:path';
import { errnoOf, PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import { runToolLight } from '../core/tool-light.js';

// ---------------------------------------------------------------------------------------
// dpkg status

export interface DpkgPackage {
  name: string;
  /** `amd64`, `all`, … ('' when the paragraph has none). */
  arch: string;
  /** Status is `<want> ok installed` (or installed with triggers pending). */
  installed: boolean;
  /** Depends and Pre-Depends: groups that must all hold, each a list of alternatives. */
  depends: string[][];
  /** Virtual package names (versions and qualifiers stripped). */
  provides: string[];
}

const INSTALLED_STATES = new Set(['installed', 'triggers-pending', 'triggers-awaited']);

/** Splits a deb822 file into paragraphs of lower-cased field name → value (continuations joined). */
function parseParagraphs(text: string): Map<string, string>[] {
  const paragraphs: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let last: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') {
      if (current.size > 0) paragraphs.push(current);
      current = new Map();
      last = undefined;
      continue;
    }
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last !== undefined) current.set(last, `${current.get(last)}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    last = line.slice(0, colon).trim().toLowerCase();
    current.set(last, line.slice(colon + 1).trim());
  }
  if (current.size > 0) paragraphs.push(current);
  return paragraphs;
}

/** `pkg:any`, `pkg:amd64` → `pkg`. */
export function stripQualifier(name: string): string {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(0, colon);
}

/**
 * A Depends-style field: `a (>= 1), b:any | c [amd64] <!nocheck>` →
 * `[['a'], ['b', 'c']]`. Versions, architecture restrictions, build profiles and
 * `:any`/architecture qualifiers do not matter for which files an installed package has.
 */
export function parseDependencyField(value: string | undefined): string[][] {
  if (value === undefined) return [];
  const groups: string[][] = [];
  for (const group of value.split(',')) {
    const alternatives: string[] = [];
    for (const alternative of group.split('|')) {
      const bare = alternative
        .replace(/\([^)]*\)/g, ' ')
        .replace(/\[[^\]]*\]/g, ' ')
        .replace(/<[^>]*>/g, ' ')
        .trim()
        .split(/\s+/)[0];
      if (bare) alternatives.push(stripQualifier(bare));
    }
    if (alternatives.length > 0) groups.push(alternatives);
  }
  return groups;
}

/** Every paragraph of a dpkg status file that names a package. */
export function parseDpkgStatus(text: string): DpkgPackage[] {
  const packages: DpkgPackage[] = [];
  for (const fields of parseParagraphs(text)) {
    const name = fields.get('package');
    if (!name) continue;
    const status = (fields.get('status') ?? '').split(/\s+/);
    packages.push({
      name,
      arch: fields.get('architecture') ?? '',
      installed: status[1] === 'ok' && INSTALLED_STATES.has(status[2] ?? ''),
      depends: [
        ...parseDependencyField(fields.get('pre-depends')),
        ...parseDependencyField(fields.get('depends')),
      ],
      provides: parseDependencyField(fields.get('provides')).flat(),
    });
  }
  return packages;
}

/** dpkg's name for the machine's own architecture. */
export function nativeDpkgArch(arch: string = process.arch): string {
  const names: Record<string, string> = {
    x64: 'amd64',
    ia32: 'i386',
    arm64: 'arm64',
    arm: 'armhf',
    ppc64: 'ppc64el',
    s390x: 's390x',
    riscv64: 'riscv64',
    loong64: 'loong64',
    mips64el: 'mips64el',
  };
  return names[arch] ?? arch;
}

/** The installed packages of one dpkg database, by name and by what they provide. */
export class DpkgIndex {
  private readonly byName = new Map<string, DpkgPackage[]>();
  private readonly byProvides = new Map<string, DpkgPackage[]>();

  constructor(
    packages: readonly DpkgPackage[],
    private readonly nativeArch = nativeDpkgArch(),
  ) {
    for (const pkg of packages) {
      if (!pkg.installed) continue;
      push(this.byName, pkg.name, pkg);
      for (const virtual of pkg.provides) push(this.byProvides, virtual, pkg);
    }
  }

  /**
   * The installed package that satisfies `name`: the package of that name, else one
   * that provides it. `name:arch` picks that architecture; otherwise the native one,
   * then `all`, then any.
   */
  find(name: string): DpkgPackage | undefined {
    const colon = name.indexOf(':');
    const bare = colon < 0 ? name : name.slice(0, colon);
    const qualifier = colon < 0 ? undefined : name.slice(colon + 1);
    const candidates = this.byName.get(bare) ?? this.byProvides.get(bare);
    if (!candidates) return undefined;
    if (qualifier && qualifier !== 'any' && qualifier !== 'native')
      return candidates.find((p) => p.arch === qualifier);
    return (
      candidates.find((p) => p.arch === this.nativeArch) ??
      candidates.find((p) => p.arch === 'all') ??
      candidates[0]
    );
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// ---------------------------------------------------------------------------------------
// Resolution, over any database

export interface HostPackage {
  /** Unique within its database (`libc6:amd64`). */
  id: string;
  name: string;
}

export interface PackageDatabase {
  /** `dpkg`, `rpm`, or `none` when the host has neither. */
  readonly kind: string;
  /** Changes whenever the database does (a cached resolution is keyed on it). */
  fingerprint(): string;
  /** The files whose identity the fingerprint is made of. */
  watched(): string[];
  /** The installed package that satisfies `name` (a real package or one providing it). */
  find(name: string): HostPackage | undefined;
  /** Depends and Pre-Depends: groups of alternatives. */
  dependencies(pkg: HostPackage): string[][];
  /** Absolute paths the database lists for the package (directories mean themselves). */
  files(pkg: HostPackage): string[];
}

export interface PackageRequest {
  name: string;
  /** Who asks: `flake host_packages`, `/systemfiles of image x:3`. */
  source: string;
}

export interface ResolvedPackage {
  pkg: HostPackage;
  /** Names from the requested package down to this one's parent (empty for a requested one). */
  via: string[];
  /** The request the chain starts at. */
  request: PackageRequest;
}

export interface PackageResolution {
  packages: ResolvedPackage[];
  /** Requested packages the host does not have (and the base image neither). */
  missing: PackageRequest[];
  /** Requested or depended-on names the base image has: left to the image. */
  inImage: string[];
}

/**
 * The requested packages and everything they depend on, breadth first, each once.
 * A dependency group is left to the image when the image has any alternative of it;
 * otherwise the first alternative installed on the host is taken. A group the host
 * cannot satisfy is skipped: dpkg installed the package anyway, so nothing of it is
 * on disk to provide.
 */
export function resolvePackages(
  db: Pick<PackageDatabase, 'find' | 'dependencies'>,
  requests: readonly PackageRequest[],
  inImage: (name: string) => boolean = () => false,
): PackageResolution {
  const resolution: PackageResolution = { packages: [], missing: [], inImage: [] };
  const seen = new Set<string>();
  const leftToImage = new Set<string>();
  const queue: ResolvedPackage[] = [];
  const visit = (entry: ResolvedPackage) => {
    if (seen.has(entry.pkg.id)) return;
    seen.add(entry.pkg.id);
    resolution.packages.push(entry);
    queue.push(entry);
  };
  const noteImage = (name: string) => {
    if (!leftToImage.has(name)) resolution.inImage.push(name);
    leftToImage.add(name);
  };
  for (const request of requests) {
    if (inImage(request.name)) {
      noteImage(request.name);
      continue;
    }
    const pkg = db.find(request.name);
    if (!pkg) resolution.missing.push(request);
    else visit({ pkg, via: [], request });
  }
  for (let i = 0; i < queue.length; i++) {
    const parent = queue[i]!;
    for (const group of db.dependencies(parent.pkg)) {
      const fromImage = group.find((name) => inImage(name));
      if (fromImage !== undefined) {
        noteImage(fromImage);
        continue;
      }
      for (const name of group) {
        const pkg = db.find(name);
        if (!pkg) continue;
        visit({ pkg, via: [...parent.via, parent.pkg.name], request: parent.request });
        break;
      }
    }
  }
  return resolution;
}

/** How a package shows up as a file's source in messages and `pilot check`. */
export function describePackage(entry: ResolvedPackage): string {
  const chain = entry.via.length > 0 ? `for ${entry.via.join(' → ')}; ` : '';
  return `host package ${entry.pkg.name} (${chain}${entry.request.source})`;
}

/** Normalizes a path from a package list; `/.` and anything with `..` are not files to provide. */
export function normalizeListedPath(line: string): string | undefined {
  const trimmed = line.replace(/\r$/, '');
  if (!trimmed.startsWith('/') || trimmed.includes('\0')) return undefined;
  const parts = trimmed.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.length === 0 || parts.includes('..')) return undefined;
  return `/${parts.join('/')}`;
}

// ---------------------------------------------------------------------------------------
// /systemfiles

const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.+~-]*(?::[A-Za-z0-9_-]+)?$/;

/** `rpm` flags that together ask for a package's file list. */
const RPM_FLAGS: Record<string, readonly ('query' | 'list' | 'noghost')[]> = {
  '-ql': ['query', 'list'],
  '-lq': ['query', 'list'],
  '-q': ['query'],
  '--query': ['query'],
  '-l': ['list'],
  '--list': ['list'],
  '--noghost': ['noghost'],
};

function queryPackages(words: readonly string[]): string[] | undefined {
  const [tool, ...rest] = words;
  let flags: string[];
  let names: string[];
  if (tool === 'rpm') {
    const split = rest.findIndex((word) => !word.startsWith('-'));
    flags = split < 0 ? rest : rest.slice(0, split);
    names = split < 0 ? [] : rest.slice(split);
    const meanings = new Set<string>();
    for (const flag of flags) {
      const meaning = RPM_FLAGS[flag];
      if (!meaning) return undefined;
      for (const m of meaning) meanings.add(m);
    }
    if (!meanings.has('query') || !meanings.has('list')) return undefined;
  } else if (tool === 'dpkg' || tool === 'dpkg-query') {
    [flags, names] = [rest.slice(0, 1), rest.slice(1)];
    if (flags[0] !== '-L' && flags[0] !== '--listfiles') return undefined;
  } else {
    return undefined;
  }
  if (names.length === 0 || !names.every((name) => PACKAGE_NAME.test(name))) return undefined;
  return names;
}

/**
 * An image's `/systemfiles`: one package query per line (`rpm -ql PKG`,
 * `rpm --noghost -ql PKG`, `dpkg -L PKG`; more than one PKG is fine), blank lines,
 * `#` comments and the `set -e` KIWI writes first ignored. It is data, never run: any other line is refused, naming
 * `source`, the line number and the line, before anything reaches the host.
 */
export function parseSystemFiles(text: string, source: string): PackageRequest[] {
  const requests: PackageRequest[] = [];
  text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const words = line.split(/\s+/);
      if (words.length === 2 && words[0] === 'set' && words[1] === '-e') return;
      const names = queryPackages(words);
      if (!names) {
        throw new PilotError(
          'PILOT_IMAGE_INVALID',
          `${source}:${index + 1}: ${quoteExcerpt(line)} is not a package query pilot understands; /systemfiles is data and is never run`,
          {
            hint: 'pilot reads only "rpm -ql PKG", "rpm --noghost -ql PKG" and "dpkg -L PKG" lines; rebuild the image with such a /systemfiles, or name the packages with "pilot register --host-package NAME"',
          },
        );
      }
      for (const name of names) requests.push({ name, source: `${source}:${index + 1}` });
    });
  return requests;
}

// ---------------------------------------------------------------------------------------
// The host's database

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw error;
  }
}

function identity(stat: Stats | undefined): string {
  return stat ? `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}` : '-';
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
    return `dpkg:${identity(statOrUndefined(`${this.dir}/status`))}`;
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
 * installed); an rpm that is missing or dies is a ToolError that names it.
 */
function runRpm(args: string[]): { status: number | null; stdout: string } {
  const r = runToolLight(['rpm', ...args], {
    purpose: "cannot query the host's rpm database",
    maxBuffer: 256 * 1024 * 1024,
    okExitCodes: 'any',
  });
  return { status: r.exitCode, stdout: r.stdout };
}

/**
 * rpm, through its own queries (its database is not a text file): one query lists
 * what every installed package provides and requires; file lists are asked per package.
 */
export class RpmDatabase implements PackageDatabase {
  readonly kind = 'rpm';
  private tables:
    | { names: Set<string>; provides: Map<string, string>; requires: Map<string, string[]> }
    | undefined;

  constructor(
    private readonly dbFiles: readonly string[],
    private readonly run: RunTool = runRpm,
  ) {}

  fingerprint(): string {
    return `rpm:${this.dbFiles.map((f) => identity(statOrUndefined(f))).join(',')}`;
  }

  watched(): string[] {
    return [...this.dbFiles];
  }

  private load() {
    if (this.tables) return this.tables;
    const names = new Set<string>();
    const provides = new Map<string, string>();
    const requires = new Map<string, string[]>();
    const out = this.run([
      '-qa',
      '--qf',
      '[P\t%{NAME}\t%{PROVIDENAME}\n][R\t%{NAME}\t%{REQUIRENAME}\n]',
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
      const owner = this.run(['-qf', '--qf', '%{NAME}\n', name]);
      const first = owner.stdout.split('\n')[0]?.trim();
      if (owner.status === 0 && first && names.has(first)) return { id: first, name: first };
    }
    return undefined;
  }

  dependencies(pkg: HostPackage): string[][] {
    return (this.load().requires.get(pkg.name) ?? []).map((capability) => [capability]);
  }

  files(pkg: HostPackage): string[] {
    const out = this.run(['-ql', '--noghost', pkg.name]);
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

const RPM_DB_FILES = [
  'usr/lib/sysimage/rpm/rpmdb.sqlite',
  'usr/lib/sysimage/rpm/rpmdb.sqlite-wal',
  'var/lib/rpm/rpmdb.sqlite',
  'var/lib/rpm/rpmdb.sqlite-wal',
  'var/lib/rpm/Packages',
  'var/lib/rpm/Packages.db',
  'usr/lib/sysimage/rpm/Packages.db',
];

/** dpkg when the host has `/var/lib/dpkg/status`, else rpm when it has an rpm database. */
export function openHostPackageDatabase(hostRoot = '/'): PackageDatabase {
  const dpkgDir = posix.join(hostRoot, 'var/lib/dpkg');
  if (statOrUndefined(`${dpkgDir}/status`)) return new DpkgDatabase(dpkgDir);
  const rpmFiles = RPM_DB_FILES.map((f) => posix.join(hostRoot, f));
  if (hostRoot === '/' && rpmFiles.some((f) => statOrUndefined(f)))
    return new RpmDatabase(rpmFiles);
  return new NoDatabase(`${dpkgDir}/status`);
}

/** How to install a package on this host, for hints. */
export function installHint(kind: string, names: readonly string[]): string {
  const list = names.join(' ');
  if (kind === 'rpm')
    return `install it on the host ("dnf install ${list}" or "zypper install ${list}")`;
  return `install it on the host ("apt-get install ${list}")`;
}
