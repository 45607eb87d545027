import {
  type BigIntStats,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dirIdentityOfStats, identityOfStats } from '../../src/core/file-identity.js';
import type { HostFile } from '../../src/runtime/host-layer.js';
import { hostStamps, RACY_COARSE_MS, RACY_MS } from '../../src/runtime/host-stamps.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-hoststamps-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// A host tree (host/usr/lib, host/etc) and a host layer that links one file and copies another.
const host = join(work, 'host');
const layer = join(work, 'layer');
for (const dir of ['usr/lib', 'etc', 'usr/share/doc'])
  mkdirSync(join(host, dir), { recursive: true });
mkdirSync(join(layer, 'usr/lib'), { recursive: true });
writeFileSync(join(host, 'usr/lib/linked.so'), 'linked');
writeFileSync(join(host, 'usr/lib/copied.so'), 'copied');
writeFileSync(join(host, 'etc/secret'), 'secret');
linkSync(join(host, 'usr/lib/linked.so'), join(layer, 'usr/lib/linked.so'));
writeFileSync(join(layer, 'usr/lib/copied.so'), 'copied');

const fileOf = (path: string, kind: HostFile['kind'] = 'file'): HostFile => ({
  path,
  target: path,
  kind,
  stat: kind === 'missing' ? undefined : lstatSync(host + path, { bigint: true }),
});
const files: HostFile[] = [
  fileOf('/usr/lib/linked.so'),
  fileOf('/usr/lib/copied.so'),
  { path: '/etc/secret', target: '/etc/secret', kind: 'missing', reason: 'unreadable' },
  fileOf('/usr/share/doc', 'dir'),
  { path: '/opt/absent/x', target: '/opt/absent/x', kind: 'missing' },
];
const watched = files.map((f) => host + f.path);
// Every directory last changed long before the scan, unless a test says otherwise.
const old = (path: string, at = 1_000_000_000_000n): BigIntStats | undefined => {
  try {
    return { ...lstatSync(path, { bigint: true }), mtimeNs: at, ctimeNs: at } as BigIntStats;
  } catch {
    return undefined;
  }
};

describe('hostStamps', () => {
  it('stamps each directory once and only the files a directory does not speak for', () => {
    const stamps = hostStamps({
      files,
      watched,
      hostRoot: host,
      layer,
      scanStart: Date.now(),
      statDir: (p) => old(p),
    });
    expect([...stamps.dirs.keys()].sort()).toEqual(
      [
        `${host}/etc`,
        `${host}/opt/absent`,
        `${host}/usr/lib`,
        `${host}/usr/share`,
        `${host}/usr/share/doc`,
      ].sort(),
    );
    expect(stamps.dirs.get(`${host}/usr/lib`)).toBe(dirIdentityOfStats(old(`${host}/usr/lib`)));
    expect(stamps.dirs.get(`${host}/opt/absent`)).toBe('-');
    // The copy with the identity the scan saw; the unreadable file taken when the plan is written.
    expect([...stamps.files]).toEqual([
      [`${host}/usr/lib/copied.so`, identityOfStats(files[1]!.stat)],
      [`${host}/etc/secret`, undefined],
    ]);
  });

  it('needs no stamp of its own for a file bound by path (no host layer)', () => {
    const stamps = hostStamps({
      files,
      watched,
      hostRoot: host,
      layer: undefined,
      scanStart: Date.now(),
      statDir: (p) => old(p),
    });
    expect([...stamps.files.keys()]).toEqual([`${host}/etc/secret`]);
  });

  it('stamps every file of a directory changed close to the scan (racy), with the scan identity', () => {
    const scanStart = Date.now();
    const racyAt = BigInt(scanStart - RACY_MS + 1) * 1_000_000n;
    const statDir = (p: string) => (p === `${host}/usr/lib` ? old(p, racyAt) : old(p));
    const stamps = hostStamps({ files, watched, hostRoot: host, layer, scanStart, statDir });
    expect(stamps.files.get(`${host}/usr/lib/linked.so`)).toBe(identityOfStats(files[0]!.stat));
    expect(stamps.files.get(`${host}/usr/lib/copied.so`)).toBe(identityOfStats(files[1]!.stat));
    expect(stamps.files.has(`${host}/usr/share/doc`)).toBe(false);
    expect(stamps.dirs.has(`${host}/usr/lib`)).toBe(true);
    // Just outside the margin: the directory speaks for its files again.
    const calm = BigInt(scanStart - RACY_MS - 1) * 1_000_000n + 1n; // not a whole second
    const settled = hostStamps({
      files,
      watched,
      hostRoot: host,
      layer,
      scanStart,
      statDir: (p) => old(p, calm),
    });
    expect(settled.files.has(`${host}/usr/lib/linked.so`)).toBe(false);
    // A file system that keeps whole seconds: the wider margin.
    const second = (BigInt(Math.floor(scanStart / 1000)) - 1n) * 1_000_000_000n;
    expect(second >= BigInt(scanStart - RACY_COARSE_MS) * 1_000_000n).toBe(true);
    const coarse = hostStamps({
      files,
      watched,
      hostRoot: host,
      layer,
      scanStart,
      statDir: (p) => old(p, second),
    });
    expect(coarse.files.has(`${host}/usr/lib/linked.so`)).toBe(true);
  });

  it('takes a directory just made on the host itself (hostRoot /) for racy', () => {
    const abs = files.slice(0, 1).map((f) => ({ ...f, path: host + f.path }));
    const stamps = hostStamps({
      files: abs,
      watched: [abs[0]!.path],
      hostRoot: '/',
      layer,
      scanStart: Date.now(),
    });
    expect([...stamps.dirs.keys()]).toEqual([`${host}/usr/lib`]);
    expect([...stamps.files]).toEqual([[abs[0]!.path, identityOfStats(abs[0]!.stat)]]);
  });
});
