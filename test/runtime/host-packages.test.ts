import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import {
  DpkgDatabase,
  openHostPackageDatabase,
  RpmDatabase,
} from '../../src/runtime/host-package-db.js';
import {
  DpkgIndex,
  normalizeListedPath,
  parseDependencyField,
  parseDpkgStatus,
  parseSystemFiles,
  resolvePackages,
} from '../../src/runtime/host-packages.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-pkgs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A status paragraph; `status` defaults to installed. */
function pkg(
  name: string,
  fields: {
    depends?: string;
    pre?: string;
    provides?: string;
    arch?: string;
    status?: string;
  } = {},
): string {
  const lines = [
    `Package: ${name}`,
    `Status: ${fields.status ?? 'install ok installed'}`,
    'Priority: optional',
    `Architecture: ${fields.arch ?? 'amd64'}`,
  ];
  if (fields.pre) lines.push(`Pre-Depends: ${fields.pre}`);
  if (fields.depends) lines.push(`Depends: ${fields.depends}`);
  if (fields.provides) lines.push(`Provides: ${fields.provides}`);
  lines.push('Description: a package', ' with a long description', ' .', ' Depends: not a field');
  return `${lines.join('\n')}\n`;
}

function status(...paragraphs: string[]): string {
  return paragraphs.join('\n');
}

describe('parseDependencyField', () => {
  it.each<[string, string | undefined, string[][]]>([
    ['absent', undefined, []],
    ['empty', '', []],
    ['one name', 'libc6', [['libc6']]],
    ['versions ignored', 'libjq1 (= 1.6-2.1+deb12u3), libc6 (>= 2.34)', [['libjq1'], ['libc6']]],
    ['alternatives', 'mawk | gawk | original-awk', [['mawk', 'gawk', 'original-awk']]],
    ['versioned alternatives', 'a (>= 1) | b (<< 2)', [['a', 'b']]],
    ['qualifiers stripped', 'python3:any (>= 3.11), libfoo:amd64', [['python3'], ['libfoo']]],
    ['arch restrictions and profiles', 'a [amd64] <!nocheck>, b [!i386]', [['a'], ['b']]],
    ['odd spacing', '  a ,b|c  ,, d', [['a'], ['b', 'c'], ['d']]],
  ])('%s', (_name, value, expected) => {
    expect(parseDependencyField(value)).toEqual(expected);
  });
});

describe('parseDpkgStatus', () => {
  it('reads packages, their state, Pre-Depends before Depends, Provides', () => {
    const parsed = parseDpkgStatus(
      status(
        pkg('jq', { depends: 'libjq1 (= 1.6), libc6 (>= 2.34)', pre: 'dpkg (>= 1.15)' }),
        pkg('mawk', { provides: 'awk (= 1.3), awk-alias' }),
        pkg('removed', { status: 'deinstall ok config-files' }),
        pkg('half', { status: 'install ok half-configured' }),
        pkg('broken', { status: 'install reinstreq installed' }),
        pkg('held', { status: 'hold ok installed' }),
        pkg('triggered', { status: 'install ok triggers-pending' }),
      ),
    );
    expect(parsed.map((p) => [p.name, p.installed])).toEqual([
      ['jq', true],
      ['mawk', true],
      ['removed', false],
      ['half', false],
      ['broken', false],
      ['held', true],
      ['triggered', true],
    ]);
    expect(parsed[0]!.depends).toEqual([['dpkg'], ['libjq1'], ['libc6']]);
    expect(parsed[0]!.arch).toBe('amd64');
    expect(parsed[1]!.provides).toEqual(['awk', 'awk-alias']);
  });

  it('takes CRLF, continuation lines, field names in any case and no trailing newline', () => {
    const text =
      'package: a\r\nSTATUS: install ok installed\r\ndepends: b,\r\n c\r\n\r\nPackage: b';
    const parsed = parseDpkgStatus(text);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]!.depends).toEqual([['b'], ['c']]);
    expect(parsed[1]!.installed).toBe(false);
  });
});

describe('DpkgIndex', () => {
  const index = new DpkgIndex(
    parseDpkgStatus(
      status(
        pkg('libc6', { arch: 'i386' }),
        pkg('libc6', { arch: 'amd64' }),
        pkg('tzdata', { arch: 'all' }),
        pkg('mawk', { provides: 'awk' }),
        pkg('gone', { status: 'deinstall ok config-files', provides: 'ghost' }),
      ),
    ),
    'amd64',
  );

  it.each<[string, string | undefined]>([
    ['libc6', 'libc6:amd64'],
    ['libc6:i386', 'libc6:i386'],
    ['libc6:any', 'libc6:amd64'],
    ['libc6:arm64', undefined],
    ['tzdata', 'tzdata:all'],
    ['awk', 'mawk:amd64'],
    ['gone', undefined],
    ['ghost', undefined],
    ['nope', undefined],
  ])('finds %s', (name, expected) => {
    const found = index.find(name);
    expect(found ? `${found.name}:${found.arch}` : undefined).toBe(expected);
  });
});

describe('resolvePackages', () => {
  const host = status(
    pkg('jq', { depends: 'libjq1 (= 1.6-2.1+deb12u3), libc6 (>= 2.34)' }),
    pkg('libjq1', { depends: 'libc6 (>= 2.36), libonig5 (>= 6.8.1)' }),
    pkg('libonig5', { depends: 'libc6 (>= 2.14)' }),
    pkg('libc6', { depends: 'libgcc-s1' }),
    pkg('libgcc-s1', { depends: 'gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)' }),
    pkg('gcc-12-base'),
    pkg('tool', { pre: 'awk', depends: 'missing-dep | jq, python3:any (>= 3.11)' }),
    pkg('mawk', { provides: 'awk' }),
    pkg('python3', { arch: 'amd64' }),
    pkg('cycle-a', { depends: 'cycle-b' }),
    pkg('cycle-b', { depends: 'cycle-a, cycle-a' }),
    pkg('alt', { depends: 'gawk | mawk' }),
    pkg('uninstalled', { status: 'deinstall ok config-files' }),
    pkg('needs-gone', { depends: 'uninstalled, libc6' }),
  );
  const db = (() => {
    const index = new DpkgIndex(parseDpkgStatus(host), 'amd64');
    return {
      find: (name: string) => {
        const p = index.find(name);
        return p ? { id: `${p.name}:${p.arch}`, name: p.name, p } : undefined;
      },
      dependencies: (p: { name: string }) => index.find(p.name)!.depends,
    };
  })();
  const names = (requests: string[], image: string[] = []) => {
    const r = resolvePackages(
      db,
      requests.map((name) => ({ name, source: 'test' })),
      (name) => image.includes(name),
    );
    return {
      packages: r.packages.map((p) => p.pkg.name),
      missing: r.missing.map((m) => m.name),
      inImage: r.inImage,
    };
  };

  it.each<[string, string[], string[], ReturnType<typeof names>]>([
    [
      'jq and everything it needs, breadth first',
      ['jq'],
      [],
      {
        packages: ['jq', 'libjq1', 'libc6', 'libonig5', 'libgcc-s1', 'gcc-12-base'],
        missing: [],
        inImage: [],
      },
    ],
    [
      'what the base image has is left to it, with its dependencies',
      ['jq'],
      ['libc6'],
      { packages: ['jq', 'libjq1', 'libonig5'], missing: [], inImage: ['libc6'] },
    ],
    [
      'a requested package the image has',
      ['jq'],
      ['jq'],
      { packages: [], missing: [], inImage: ['jq'] },
    ],
    [
      'unknown and uninstalled packages are missing',
      ['nope', 'uninstalled', 'libonig5'],
      ['libc6'],
      { packages: ['libonig5'], missing: ['nope', 'uninstalled'], inImage: ['libc6'] },
    ],
    [
      'virtual packages, first installed alternative, :any',
      ['tool'],
      ['libc6'],
      {
        packages: ['tool', 'mawk', 'jq', 'python3', 'libjq1', 'libonig5'],
        missing: [],
        inImage: ['libc6'],
      },
    ],
    [
      'an alternative the image has satisfies the group',
      ['alt'],
      ['gawk'],
      { packages: ['alt'], missing: [], inImage: ['gawk'] },
    ],
    ['a requested virtual package', ['awk'], [], { packages: ['mawk'], missing: [], inImage: [] }],
    ['cycles end', ['cycle-a'], [], { packages: ['cycle-a', 'cycle-b'], missing: [], inImage: [] }],
    [
      'a dependency that is not installed is skipped',
      ['needs-gone'],
      ['libc6'],
      { packages: ['needs-gone'], missing: [], inImage: ['libc6'] },
    ],
    [
      'each package once, however often it is asked for',
      ['libonig5', 'jq', 'libonig5'],
      ['libc6'],
      { packages: ['libonig5', 'jq', 'libjq1'], missing: [], inImage: ['libc6'] },
    ],
  ])('%s', (_name, requests, image, expected) => {
    expect(names(requests, image)).toEqual(expected);
  });

  it('records the chain from the request', () => {
    const r = resolvePackages(db, [{ name: 'jq', source: 'flake host_packages' }]);
    const onig = r.packages.find((p) => p.pkg.name === 'libonig5')!;
    expect(onig.via).toEqual(['jq', 'libjq1']);
    expect(onig.request.source).toBe('flake host_packages');
  });

  it('brings a /systemfiles package alone, and whole once a host package needs it', () => {
    const systemfiles = { name: 'libjq1', source: '/systemfiles:1', dependencies: false };
    const alone = resolvePackages(db, [systemfiles]);
    expect(alone.packages.map((p) => p.pkg.name)).toEqual(['libjq1']);
    const both = resolvePackages(db, [systemfiles, { name: 'jq', source: 'flake host_packages' }]);
    expect(both.packages.map((p) => p.pkg.name)).toEqual([
      'libjq1',
      'jq',
      'libc6',
      'libonig5',
      'libgcc-s1',
      'gcc-12-base',
    ]);
  });
});

describe('parseSystemFiles', () => {
  it.each<[string, string, string[]]>([
    ['empty', '', []],
    ['comments and blank lines', '# host files\n\n   \n  # more\n', []],
    ['rpm -ql', 'rpm -ql jq\n', ['jq']],
    ['rpm --noghost -ql', 'rpm --noghost -ql glibc\n', ['glibc']],
    ["KIWI's set -e first", 'set -e\nrpm --noghost -ql glibc\n', ['glibc']],
    ['rpm -ql --noghost', 'rpm -ql --noghost glibc', ['glibc']],
    ['rpm -q -l', 'rpm -q -l a b', ['a', 'b']],
    ['dpkg -L', 'dpkg -L libc6:amd64\n', ['libc6:amd64']],
    ['dpkg-query --listfiles', 'dpkg-query --listfiles jq', ['jq']],
    ['several lines, CRLF, tabs', 'rpm -ql a\r\n\tdpkg -L  b \r\n', ['a', 'b']],
    ['names with + . ~', 'dpkg -L libstdc++6 python3.11 x~y', ['libstdc++6', 'python3.11', 'x~y']],
  ])('%s', (_name, text, expected) => {
    expect(parseSystemFiles(text, 'img').map((r) => r.name)).toEqual(expected);
  });

  it('names the line a request comes from', () => {
    expect(parseSystemFiles('# x\nrpm -ql jq\n', '/systemfiles of image a')).toEqual([
      { name: 'jq', source: '/systemfiles of image a:2', dependencies: false },
    ]);
  });

  it.each<[string, string, number, string]>([
    ['a shell command', 'touch /tmp/pwned\n', 1, 'touch /tmp/pwned'],
    ['a command after a query', 'rpm -ql jq\nrpm -ql jq; touch /tmp/pwned\n', 2, 'rpm -ql jq;'],
    ['a substitution', 'dpkg -L $(touch /tmp/x)\n', 1, '$(touch'],
    ['a query without a list flag', 'rpm -q jq\n', 1, 'rpm -q jq'],
    ['an unknown rpm flag', 'rpm -ql --root=/ jq\n', 1, '--root=/'],
    ['no package', 'dpkg -L\n', 1, 'dpkg -L'],
    ['a pipe', 'rpm -ql jq | sh\n', 1, '| sh'],
    ['a redirect', 'dpkg -L jq >/etc/passwd\n', 1, '>/etc/passwd'],
    ['a path as a package', 'dpkg -L /etc/shadow\n', 1, '/etc/shadow'],
    ['another set option', 'set -x\n', 1, 'set -x'],
    ['set -e with more after it', 'set -e; touch /tmp/x\n', 1, 'set -e;'],
    ['a script line', '#!/bin/sh\nfor p in a b; do rpm -ql $p; done\n', 2, 'for p in'],
  ])('refuses %s, naming source, line and content', (_name, text, line, content) => {
    let caught: unknown;
    try {
      parseSystemFiles(text, '/systemfiles of image test/x (abc)');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PilotError);
    const message = (caught as PilotError).message;
    expect(message).toContain(`/systemfiles of image test/x (abc):${line}:`);
    expect(message).toContain(content);
    expect(message).toContain('never run');
  });

  it('quotes a refused line as a short escaped excerpt (no bidi override, no 200-byte quote)', () => {
    const line = `\u202e ${'x'.repeat(300)}`;
    expect(() => parseSystemFiles(line, 'img')).toThrow(/^img:1: "\\u202e x{60,80}…" is not/);
  });
});

describe('normalizeListedPath', () => {
  it.each<[string, string | undefined]>([
    ['/.', undefined],
    ['/', undefined],
    ['', undefined],
    ['relative/path', undefined],
    ['/usr/bin/jq', '/usr/bin/jq'],
    ['/usr//lib/./x/', '/usr/lib/x'],
    ['/usr/../etc/shadow', undefined],
    ['/usr/share/doc/x\r', '/usr/share/doc/x'],
  ])('%j', (line, expected) => {
    expect(normalizeListedPath(line)).toBe(expected);
  });
});

describe('DpkgDatabase', () => {
  const root = join(work, 'host');
  const dpkg = join(root, 'var/lib/dpkg');
  mkdirSync(join(dpkg, 'info'), { recursive: true });
  writeFileSync(
    join(dpkg, 'status'),
    status(
      pkg('jq', { depends: 'libjq1' }),
      pkg('libjq1', { arch: 'amd64' }),
      pkg('nolist', { arch: 'all' }),
    ),
  );
  writeFileSync(join(dpkg, 'info/jq.list'), '/.\n/usr\n/usr/bin\n/usr/bin/jq\n/usr/share/doc/jq\n');
  writeFileSync(join(dpkg, 'info/libjq1:amd64.list'), '/.\n/usr/lib/x86_64-linux-gnu/libjq.so.1\n');

  it('is what openHostPackageDatabase picks where dpkg has a status file', () => {
    expect(openHostPackageDatabase(root).kind).toBe('dpkg');
    expect(openHostPackageDatabase(join(work, 'nothing')).kind).toBe('none');
  });

  it('gives way to the database PILOT_HOST_PACKAGES names', () => {
    expect(openHostPackageDatabase(root, 'dpkg').kind).toBe('dpkg');
    expect(openHostPackageDatabase(root, 'none').kind).toBe('none');
    // rpm on a root without an rpm database: nothing installed, and its files watched.
    const rpm = openHostPackageDatabase(root, 'rpm');
    expect(rpm.kind).toBe('rpm');
    expect(rpm.watched()).toContain(join(root, 'usr/lib/sysimage/rpm/rpmdb.sqlite'));
    expect(rpm.watched()).toContain(join(root, 'var/lib/rpm/Packages'));
    expect(openHostPackageDatabase(join(work, 'nothing'), 'dpkg').kind).toBe('none');
  });

  it('reads <pkg>.list and <pkg>:<arch>.list without /.', () => {
    const db = new DpkgDatabase(dpkg);
    expect(db.files(db.find('jq')!)).toEqual([
      '/usr',
      '/usr/bin',
      '/usr/bin/jq',
      '/usr/share/doc/jq',
    ]);
    expect(db.files(db.find('libjq1')!)).toEqual(['/usr/lib/x86_64-linux-gnu/libjq.so.1']);
    expect(db.files(db.find('nolist')!)).toEqual([]);
    expect(db.dependencies(db.find('jq')!)).toEqual([['libjq1']]);
  });

  it('has a fingerprint that changes when the status file is replaced', () => {
    const db = new DpkgDatabase(dpkg);
    const before = db.fingerprint();
    expect(db.fingerprint()).toBe(before);
    const text = `${status(pkg('jq'))}\n`;
    writeFileSync(join(dpkg, 'status.new'), text);
    rmSync(join(dpkg, 'status'));
    writeFileSync(join(dpkg, 'status'), `${text}\n`);
    expect(db.fingerprint()).not.toBe(before);
    expect(db.watched()).toEqual([join(dpkg, 'status')]);
  });
});

// RpmDatabase's queries are run against a real rpm database in integration/host-rpm.test.ts.
describe('RpmDatabase', () => {
  it('names the database in every query, and says so when rpm is not installed', () => {
    const calls: string[][] = [];
    const db = new RpmDatabase(
      [],
      (args) => {
        calls.push(args);
        return { status: null, stdout: '' };
      },
      { root: '/srv/host', dbpath: '/var/lib/rpm' },
    );
    expect(() => db.find('jq')).toThrow(
      /^rpm is not installed, so the host packages this app needs cannot be listed$/,
    );
    expect(calls[0]!.slice(0, 4)).toEqual(['--root', '/srv/host', '--dbpath', '/var/lib/rpm']);
  });
});
