/**
 * Host packages from a real rpm database (issue 16, item 9). Small packages are built
 * with rpmbuild and installed with rpm into a host root of their own (`rpm --root`);
 * pilot reads that root through PILOT_HOST_ROOT and PILOT_HOST_PACKAGES=rpm and
 * resolves against rpm itself, not a fake that answers the query pilot sends:
 * - `host_packages` bring the package with what it requires: a package by name, a
 *   capability another package provides, a file another package owns (`rpm -qf`);
 * - a KIWI base's `/systemfiles` (`set -e` + `rpm --noghost -ql PKG`) brings the named
 *   package only, as that command lists it: no dependency, no %ghost file.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { examples, layerDir, skipReason, TestRoot } from './harness.js';

const skip = skipReason();

interface Spec {
  name: string;
  requires?: string;
  provides?: string;
  /** Path → content. */
  files: Record<string, string>;
  /** A %ghost file: owned, never shipped. */
  ghost?: string;
}

function specText(spec: Spec): string {
  const dirs = [...new Set(Object.keys(spec.files).map((p) => p.slice(0, p.lastIndexOf('/'))))];
  return [
    `Name: ${spec.name}`,
    'Version: 1.0',
    'Release: 1',
    `Summary: ${spec.name}, a pilot test package`,
    'License: MIT',
    'BuildArch: noarch',
    // Only the dependencies written here: rpmbuild would add /bin/sh and friends.
    'AutoReqProv: no',
    ...(spec.requires ? [`Requires: ${spec.requires}`] : []),
    ...(spec.provides ? [`Provides: ${spec.provides}`] : []),
    '',
    '%description',
    'A package of the pilot integration suite.',
    '',
    '%install',
    ...dirs.map((d) => `mkdir -p %{buildroot}${d}`),
    ...Object.entries(spec.files).map(([p, text]) => `echo '${text}' > %{buildroot}${p}`),
    '',
    '%files',
    ...Object.keys(spec.files),
    ...(spec.ghost ? [`%ghost ${spec.ghost}`] : []),
    '',
  ].join('\n');
}

describe.skipIf(skip !== '')('host packages from a real rpm database', () => {
  let root: TestRoot;
  let host: string;
  const hostEnv = () => ({ PILOT_HOST_ROOT: host, PILOT_HOST_PACKAGES: 'rpm' });
  const rpm = (...args: string[]) =>
    execFileSync('rpm', ['--root', host, '--dbpath', '/var/lib/rpm', ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  beforeAll(() => {
    root = new TestRoot('rpm');
    const work = join(root.dir, 'work');
    host = join(root.dir, 'host');
    mkdirSync(join(work, 'SPECS'), { recursive: true });
    mkdirSync(host);
    const specs: Spec[] = [
      {
        name: 'pilot-greeting',
        requires: 'greeting-words',
        files: { '/usr/share/pilot-greeting/hello.txt': 'hello from rpm' },
        ghost: '/var/log/pilot-greeting.log',
      },
      {
        name: 'pilot-greeting-data',
        provides: 'greeting-words',
        requires: '/usr/share/pilot-base/marker',
        files: { '/usr/share/pilot-greeting-data/words.txt': 'words' },
      },
      { name: 'pilot-base', files: { '/usr/share/pilot-base/marker': 'base' } },
      { name: 'pilot-unrelated', files: { '/usr/share/pilot-unrelated/x.txt': 'unrelated' } },
    ];
    for (const spec of specs)
      writeFileSync(join(work, 'SPECS', `${spec.name}.spec`), specText(spec));
    execFileSync(
      'rpmbuild',
      [
        '-bb',
        '--quiet',
        '--define',
        `_topdir ${work}`,
        ...specs.map((s) => join(work, 'SPECS', `${s.name}.spec`)),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    rpm('--initdb');
    // One transaction: rpm checks every Requires against the packages installed.
    rpm('-i', ...specs.map((s) => join(work, 'RPMS/noarch', `${s.name}-1.0-1.noarch.rpm`)));
    // The %ghost file exists on the host, as a log would; rpm --noghost -ql leaves it out.
    mkdirSync(join(host, 'var/log'), { recursive: true });
    writeFileSync(join(host, 'var/log/pilot-greeting.log'), 'a log\n');

    const dir = (name: string, files: Record<string, string>) => layerDir(work, name, files);
    const image = (name: string, layers: string[]) => root.loadLayers(work, name, layers);
    const app = '#!/bin/sh\nfor f in "$@"; do cat "$f" 2>/dev/null || echo "no $f"; done\n';
    image('rpm-app', [
      join(examples, 'layers/busybox-base'),
      dir('rpm-app', { 'usr/bin/app': app }),
    ]);
    image('rpm-kiwi-base', [
      join(examples, 'layers/busybox-base'),
      dir('rpm-kiwi-base', { systemfiles: 'set -e\nrpm --noghost -ql pilot-greeting\n' }),
    ]);
    image('rpm-kiwi-delta', [dir('rpm-kiwi-delta', { 'usr/bin/app': app })]);
    // register checks the packages on the host the app will run on: the rpm root.
    const registered = root.pilot(
      [
        'register',
        '--container',
        'test/rpm-app',
        '--app',
        '/usr/bin/rpm-app',
        '--target',
        '/usr/bin/app',
        '--host-package',
        'pilot-greeting',
      ],
      { env: root.env(hostEnv()) },
    );
    expect(registered.stderr).toBe('');
    expect(registered.code).toBe(0);
    const kiwi = root.pilot(
      [
        'register',
        '--container',
        'test/rpm-kiwi-delta',
        '--base',
        'test/rpm-kiwi-base',
        '--app',
        '/usr/bin/rpm-kiwi',
        '--target',
        '/usr/bin/app',
      ],
      { env: root.env(hostEnv()) },
    );
    expect(kiwi.stderr).toBe('');
    expect(kiwi.code).toBe(0);
  });
  afterAll(() => root?.cleanup());

  const files = [
    '/usr/share/pilot-greeting/hello.txt',
    '/usr/share/pilot-greeting-data/words.txt',
    '/usr/share/pilot-base/marker',
    '/usr/share/pilot-unrelated/x.txt',
    '/var/log/pilot-greeting.log',
  ];

  it('the test host is a real rpm database (rpm itself answers)', () => {
    expect(rpm('-qa', '--qf', '%{NAME}\n').split('\n').filter(Boolean).sort()).toEqual([
      'pilot-base',
      'pilot-greeting',
      'pilot-greeting-data',
      'pilot-unrelated',
    ]);
    expect(rpm('-q', '--whatprovides', 'greeting-words').trim()).toBe(
      'pilot-greeting-data-1.0-1.noarch',
    );
  });

  it('host_packages: the package, the capability it requires and the file that requires, no more', () => {
    const r = root.run('/usr/bin/rpm-app', files, { env: hostEnv() });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      'hello from rpm\nwords\nbase\nno /usr/share/pilot-unrelated/x.txt\nno /var/log/pilot-greeting.log\n',
    );
    expect(r.code).toBe(0);
  });

  it("KIWI's /systemfiles: the named package only, as rpm --noghost -ql lists it", () => {
    const r = root.run('/usr/bin/rpm-kiwi', files, { env: hostEnv() });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      'hello from rpm\nno /usr/share/pilot-greeting-data/words.txt\nno /usr/share/pilot-base/marker\nno /usr/share/pilot-unrelated/x.txt\nno /var/log/pilot-greeting.log\n',
    );
    expect(r.code).toBe(0);
  });

  it('check says which packages come from rpm, and why', () => {
    const r = root.pilot(['check', 'rpm-app', '--json'], { env: root.env(hostEnv()) });
    expect(r.stderr).toBe('');
    const result = JSON.parse(r.stdout) as {
      database: string;
      packages: { name: string; source: string; installed: boolean }[];
    };
    expect(result.database).toBe('rpm');
    expect(result.packages).toEqual([
      { name: 'pilot-greeting', source: 'flake host_packages', installed: true },
      {
        name: 'pilot-greeting-data',
        source: 'dependency of pilot-greeting (flake host_packages)',
        installed: true,
      },
      {
        name: 'pilot-base',
        source: 'dependency of pilot-greeting → pilot-greeting-data (flake host_packages)',
        installed: true,
      },
    ]);
  });

  it('another host root or database is another plan: the machine itself has no such package', () => {
    // Warm with the rpm root first, so that a cached plan would be there to take.
    expect(root.run('/usr/bin/rpm-app', [files[0]!], { env: hostEnv() }).stdout).toBe(
      'hello from rpm\n',
    );
    for (const env of [{}, { PILOT_HOST_ROOT: host, PILOT_HOST_PACKAGES: 'dpkg' }]) {
      const r = root.run('/usr/bin/rpm-app', [files[0]!], { env });
      expect(r.code).toBe(127);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        /package pilot-greeting \(not installed on the host; flake host_packages\)/,
      );
    }
  });

  it('a bad setting is a usage error naming the variable', () => {
    const r = root.run('/usr/bin/rpm-app', [], { env: { PILOT_HOST_PACKAGES: 'zypper' } });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/PILOT_HOST_PACKAGES "zypper" is not a package manager pilot reads/);
  });
});
