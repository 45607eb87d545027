import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import type { Flake } from '../../src/core/flake-file.js';
import type { ImageRecord } from '../../src/core/image-record.js';
import { type PilotPaths, storeDirs } from '../../src/core/paths.js';
import { scanAppHostFiles, walkIncludePath } from '../../src/runtime/host-files.js';
import { collectHostFiles, collectHostRequirements } from '../../src/runtime/host-requirements.js';
import { LayeredTree, treeLayers } from '../../src/runtime/image-tree.js';
import type { PlanImages } from '../../src/runtime/launch-plan.js';
import { expectLinear } from '../scaling.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-hostfiles-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const paths: PilotPaths = {
  root: work,
  store: join(work, 'store'),
  flakes: join(work, 'flakes'),
  run: join(work, 'run'),
  system: true,
};

type Entry = string | { link: string } | 'dir';

function fill(dir: string, files: Record<string, Entry>): void {
  mkdirSync(dir, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(dirname(full), { recursive: true });
    if (content === 'dir') mkdirSync(full, { recursive: true });
    else if (typeof content === 'string') writeFileSync(full, content);
    else symlinkSync(content.link, full);
  }
}

let counter = 0;
function image(files: Record<string, Entry>): ImageRecord {
  counter++;
  const diffId = `sha256:${counter.toString(16).padStart(64, 'a')}`;
  fill(storeDirs.layer(paths, diffId), files);
  return {
    id: `sha256:${counter.toString(16).padStart(64, 'c')}`,
    manifestDigest: '',
    layers: [diffId],
    config: {},
    size: 0,
    loaded: '',
  };
}

function flake(fields: Partial<Flake['container']> = {}, includePath: string[] = []): Flake {
  return {
    include: { tar: [], path: includePath },
    container: {
      name: 'test/delta',
      target_app_path: '/usr/bin/app',
      base_container: 'test/base',
      layers: [],
      check_host_dependencies: false,
      digests: {},
      host_packages: [],
      host_files: 'skip_missing',
      runtime: { resume: false, attach: false, podman: [] },
      ...fields,
    },
  };
}

function statusOf(...packages: [string, string?][]): string {
  return packages
    .map(
      ([name, depends]) =>
        `Package: ${name}\nStatus: install ok installed\nArchitecture: amd64\n${depends ? `Depends: ${depends}\n` : ''}`,
    )
    .join('\n');
}

// A merged-/usr Debian host with jq; its docs were path-excluded.
const host = join(work, 'host');
fill(host, {
  lib: { link: 'usr/lib' },
  'usr/bin/jq': 'jq',
  'usr/lib/x86_64-linux-gnu/libjq.so.1': { link: 'libjq.so.1.0.4' },
  'usr/lib/x86_64-linux-gnu/libjq.so.1.0.4': 'libjq',
  'usr/lib/x86_64-linux-gnu/libc.so.6': 'libc',
  'etc/jq': 'dir',
  'etc/app/conf': 'conf',
  'etc/app/sub/deeper': 'deeper',
  'etc/app/link': { link: '/etc/shadow' },
  'var/lib/dpkg/info/jq.list':
    '/.\n/usr\n/usr/bin\n/usr/bin/jq\n/usr/share/doc/jq\n/usr/share/doc/jq/copyright\n/etc/jq\n',
  'var/lib/dpkg/info/libjq1:amd64.list':
    '/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libjq.so.1\n/lib/x86_64-linux-gnu/libjq.so.1.0.4\n',
  'var/lib/dpkg/info/libc6:amd64.list': '/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n',
  'var/lib/dpkg/status': statusOf(['jq', 'libjq1, libc6'], ['libjq1', 'libc6'], ['libc6']),
});
const options = { hostRoot: host };

const base = image({
  lib: { link: 'usr/lib' },
  'usr/bin/sh': 'sh',
  'usr/lib/x86_64-linux-gnu/libc.so.6': 'image libc',
  'var/lib/dpkg/status': statusOf(['libc6']),
});
const bareBase = image({ 'usr/bin/sh': 'sh' });

function images(top: ImageRecord, withBase: ImageRecord | null = base): PlanImages {
  return { top, layers: [], base: withBase ?? undefined };
}

function scan(f: Flake, planImages: PlanImages) {
  const layers = [...planImages.top.layers, ...(planImages.base?.layers ?? [])];
  const tree = new LayeredTree(treeLayers(paths, layers));
  return scanAppHostFiles(paths, f, planImages, tree, options);
}

describe('host packages', () => {
  const delta = image({ 'usr/bin/app': 'app' });

  it('provides a package and what it depends on, at canonical paths, leaving the image its own', () => {
    const r = scan(flake({ host_packages: ['jq'] }), images(delta));
    expect(r.missing).toEqual([]);
    expect(r.requirements.inImage).toEqual(['libc6']);
    expect(r.requirements.packages.map((p) => p.name)).toEqual(['jq', 'libjq1']);
    expect(r.files.map((f) => [f.path, f.target, f.kind])).toEqual([
      ['/usr/bin/jq', '/usr/bin/jq', 'file'],
      // no doc files: dpkg never installed them; no /usr, /usr/bin, /lib, /lib/x86_64-linux-gnu:
      // the image has them
      ['/etc/jq', '/etc/jq', 'dir'],
      ['/lib/x86_64-linux-gnu/libjq.so.1', '/usr/lib/x86_64-linux-gnu/libjq.so.1', 'symlink'],
      ['/lib/x86_64-linux-gnu/libjq.so.1.0.4', '/usr/lib/x86_64-linux-gnu/libjq.so.1.0.4', 'file'],
    ]);
    const sources = r.requirements.files.map((f) => f.source);
    expect(sources).toContain('host package libjq1 (for jq; flake host_packages)');
    expect(r.databases).toContain(join(host, 'var/lib/dpkg/status'));
  });

  it('does not provide a host symlink that the list puts files beneath', () => {
    const r = scan(flake({ host_packages: ['libjq1'] }), images(delta, bareBase));
    const paths = r.files.map((f) => f.path);
    expect(paths).not.toContain('/lib');
    expect(paths).toContain('/lib/x86_64-linux-gnu/libc.so.6');
    expect(r.files.find((f) => f.path === '/lib/x86_64-linux-gnu')?.target).toBe(
      '/lib/x86_64-linux-gnu',
    );
  });

  it('reports a package that is not installed, and register refuses it naming apt-get', () => {
    const f = flake({ host_packages: ['jq', 'no-such-package'] });
    expect(scan(f, images(delta)).missing).toEqual([
      'package no-such-package (not installed on the host; flake host_packages)',
    ]);
    let caught: unknown;
    try {
      collectHostFiles(paths, f, images(delta), options);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PilotError);
    expect((caught as PilotError).message).toContain('"no-such-package"');
    expect((caught as PilotError).hint).toContain('apt-get install no-such-package');
  });

  it('caches the resolution until the package database changes', () => {
    const cachedHost = join(work, 'cached-host');
    fill(cachedHost, {
      'usr/bin/tool': 'tool',
      'usr/bin/tool2': 'tool2',
      'var/lib/dpkg/info/tool.list': '/.\n/usr/bin/tool\n',
      'var/lib/dpkg/status': statusOf(['tool']),
    });
    const f = flake({ host_packages: ['tool'] });
    const o = { hostRoot: cachedHost };
    const tree = new LayeredTree(treeLayers(paths, [...delta.layers, ...base.layers].reverse()));
    const first = scanAppHostFiles(paths, f, images(delta), tree, o);
    expect(first.files.map((x) => x.path)).toEqual(['/usr/bin/tool']);
    // A cached resolution does not read .list files again...
    writeFileSync(join(cachedHost, 'var/lib/dpkg/info/tool.list'), '/.\n/usr/bin/tool2\n');
    expect(scanAppHostFiles(paths, f, images(delta), tree, o).files.map((x) => x.path)).toEqual([
      '/usr/bin/tool',
    ]);
    // ...until dpkg replaces its status file.
    const status = join(cachedHost, 'var/lib/dpkg/status');
    unlinkSync(status);
    writeFileSync(status, `${statusOf(['tool'])}\n`);
    expect(scanAppHostFiles(paths, f, images(delta), tree, o).files.map((x) => x.path)).toEqual([
      '/usr/bin/tool2',
    ]);
    expect(readdirSync(join(paths.run, 'host-requirements')).length).toBeGreaterThan(0);
  });
});

/** A base image as KIWI builds one: its own dpkg status, a /systemfiles. */
function kiwiBase(systemfiles: string): ImageRecord {
  return image({ 'usr/bin/sh': 'sh', 'var/lib/dpkg/status': statusOf(['libc6']), systemfiles });
}

describe('/systemfiles', () => {
  it("resolves the packages its queries name in the base image's copy, each alone (rpm -ql lists no dependency)", () => {
    const kiwi = kiwiBase('# host\ndpkg -L jq\n');
    const delta = image({ 'usr/bin/app': 'app' });
    const r = collectHostRequirements(paths, flake(), images(delta, kiwi), options);
    expect(r.packages.map((p) => p.name)).toEqual(['jq']);
    expect(r.packages[0]!.source).toMatch(/\/systemfiles of image test\/base \([0-9c]+\):2/);
    expect(r.ignored).toEqual([]);
  });

  it("reads KIWI's shape (set -e, rpm --noghost -ql) as data", () => {
    const kiwi = kiwiBase('set -e\nrpm --noghost -ql jq\n');
    const r = collectHostRequirements(paths, flake(), images(image({}), kiwi), options);
    expect(r.packages.map((p) => p.name)).toEqual(['jq']);
    expect(r.packages[0]!.source).toMatch(/\/systemfiles of image test\/base \([0-9c]+\):2/);
  });

  it("counts the base image's copy only, as flake-pilot; a delta's is listed as ignored", () => {
    const kiwi = kiwiBase('dpkg -L libjq1\n');
    const delta = image({ systemfiles: 'dpkg -L jq\ntouch /tmp/pwned\n' });
    const r = collectHostRequirements(paths, flake(), images(delta, kiwi), options);
    expect(r.packages.map((p) => p.name)).toEqual(['libjq1']);
    expect(r.ignored).toEqual([expect.stringMatching(/^\/systemfiles of image test\/delta /)]);
  });

  it('counts the one image without a base (check_host_dependencies)', () => {
    const delta = image({ systemfiles: 'dpkg -L jq\n' });
    const r = collectHostRequirements(
      paths,
      flake({ base_container: undefined, check_host_dependencies: true }),
      images(delta, null),
      options,
    );
    expect(r.packages.map((p) => p.name)).toEqual(['jq']);
    // host_packages bring their dependencies; with no base image's dpkg status, libc6 too.
    const withDeps = collectHostRequirements(
      paths,
      flake({ base_container: undefined, check_host_dependencies: true, host_packages: ['jq'] }),
      images(delta, null),
      options,
    );
    expect(withDeps.packages.map((p) => p.name)).toEqual(['jq', 'libjq1', 'libc6']);
  });

  it('is ignored without a base or check_host_dependencies, as /removed is', () => {
    const delta = image({ systemfiles: 'touch /tmp/pwned\n', removed: '/usr/bin/jq\n' });
    const r = collectHostRequirements(
      paths,
      flake({ base_container: undefined }),
      images(delta, null),
      options,
    );
    expect(r.files).toEqual([]);
    expect(r.packages).toEqual([]);
  });

  it('takes 200,000 queries (a list, not a spread of arguments) in linear time', async () => {
    await expectLinear(
      (n) => {
        const kiwi = kiwiBase('dpkg -L jq\n'.repeat(n));
        return () => {
          const r = collectHostRequirements(paths, flake(), images(image({}), kiwi), options);
          expect(r.packages.map((p) => p.name)).toEqual(['jq']);
        };
      },
      25_000,
      2,
    );
  });

  it('is refused by its size before it is read, past 16 MiB', () => {
    const kiwi = kiwiBase(`# ${'x'.repeat(16 * 1024 * 1024)}\n`);
    expect(() => collectHostRequirements(paths, flake(), images(image({}), kiwi), options)).toThrow(
      /^\/systemfiles of image [0-9a-f]{12} has 16777219 bytes; pilot reads at most 16777216$/,
    );
  });

  it('refuses a line that is not a query, naming image, line and content', () => {
    const kiwi = kiwiBase('rpm -ql jq\ntouch /tmp/pwned\n');
    expect(() => collectHostRequirements(paths, flake(), images(image({}), kiwi), options)).toThrow(
      /\/systemfiles of image test\/base \([0-9c]+\):2: "touch \/tmp\/pwned"/,
    );
  });
});

describe('include.path and /removed', () => {
  it('walks an include directory, parents first, without following symlinks', () => {
    expect(walkIncludePath('/etc/app', host)).toEqual([
      '/etc/app',
      '/etc/app/conf',
      '/etc/app/link',
      '/etc/app/sub',
      '/etc/app/sub/deeper',
    ]);
    expect(walkIncludePath('/etc/app/conf', host)).toEqual(['/etc/app/conf']);
  });

  it('provides include paths at the same path, first; a missing one is missing, a missing /removed path absent', () => {
    const delta = image({ 'usr/bin/app': 'app', removed: '/usr/bin/jq\n/etc/app/conf\n/gone\n' });
    const r = scan(flake({}, ['/etc/app', '/etc/none']), images(delta));
    expect(r.files.map((f) => [f.path, f.target, f.kind])).toEqual([
      ['/etc/app', '/etc/app', 'dir'],
      ['/etc/app/conf', '/etc/app/conf', 'file'],
      ['/etc/app/link', '/etc/app/link', 'symlink'],
      ['/etc/app/sub', '/etc/app/sub', 'dir'],
      ['/etc/app/sub/deeper', '/etc/app/sub/deeper', 'file'],
      ['/etc/none', '/etc/none', 'missing'],
      ['/usr/bin/jq', '/usr/bin/jq', 'file'],
      ['/gone', '/gone', 'missing'],
    ]);
    // include.path is the flake's own demand: its absence fails the launch; a /removed
    // path missing on the host is skipped unless host_files: strict (launch.ts).
    expect(r.missing).toEqual(['/etc/none']);
    expect(r.absent).toEqual(['/gone']);
    const sources = collectHostRequirements(
      paths,
      flake({}, ['/etc/app']),
      images(delta),
      options,
    ).files.map((f) => `${f.path} ${f.origin} ${f.source}`);
    expect(sources[0]).toBe('/etc/app include include.path');
    expect(sources[1]).toMatch(/^\/usr\/bin\/jq removed \/removed of image test\/delta/);
  });

  it('refuses an include.path of the whole root', () => {
    const delta = image({});
    expect(() => collectHostRequirements(paths, flake({}, ['/']), images(delta), options)).toThrow(
      /include.path "\/"/,
    );
  });
});
