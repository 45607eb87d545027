/**
 * `register --target`: a program a launch would not find is refused at register (with
 * --force, a warning), looked up through the image's own links and in what a launch adds:
 * host files, include tars and volumes.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkTarget, type TargetSources } from '../../src/commands/register-target.js';
import type { HostFileRequest } from '../../src/runtime/host-requirements.js';
import { LayeredTree } from '../../src/runtime/image-tree.js';

const work = mkdtempSync(join(tmpdir(), 'pilot-target-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function layer(name: string, files: Record<string, string | { link: string } | 'dir'>): string {
  const dir = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    const full = join(dir, path);
    mkdirSync(join(full, '..'), { recursive: true });
    if (content === 'dir') mkdirSync(full, { recursive: true });
    else if (typeof content === 'string')
      writeFileSync(full, content, { mode: content.startsWith('#!') ? 0o755 : 0o644 });
    else symlinkSync(content.link, full);
  }
  return dir;
}

const base = layer('base', {
  'usr/bin/busybox': '#!busybox',
  'usr/bin/ls': { link: 'busybox' },
  bin: { link: 'usr/bin' },
  'usr/bin/dangling': { link: '/opt/gone' },
  'etc/motd': 'hello',
  'usr/share': 'dir',
});
const delta = layer('delta', { 'usr/bin/app': '#!app' });
const tree = new LayeredTree([{ dir: delta }, { dir: base }]);

const sources = (extra: Partial<TargetSources> = {}): TargetSources => ({
  tree,
  hostFiles: [],
  includeNames: () => [],
  volumes: [],
  ...extra,
});
const hostFile = (path: string): HostFileRequest => ({
  path,
  source: '/removed',
  origin: 'removed',
});

function refused(target: string, extra: Partial<TargetSources> = {}): string {
  try {
    checkTarget(target, sources(extra), false);
  } catch (error) {
    expect(error).toMatchObject({ code: 'PILOT_TARGET_MISSING', exitCode: 1 });
    return (error as Error).message;
  }
  throw new Error(`--target ${target} was accepted`);
}

describe('register --target', () => {
  it.each([
    '/usr/bin/app',
    '/usr/bin/busybox',
    '/bin/ls',
    '/bin/../usr/bin/app',
    '/',
  ])('accepts %s: the image has it (links followed inside the image)', (target) => {
    expect(checkTarget(target, sources(), false)).toBeUndefined();
  });

  it('refuses a program the image lacks, naming it', () => {
    expect(refused('/usr/bin/nope')).toBe(
      '--target "/usr/bin/nope" is not in the image, nor among its host files, include tars or volumes: the app could never run',
    );
  });

  it('names where a link leads when that is missing', () => {
    expect(refused('/usr/bin/dangling')).toContain(
      '--target "/usr/bin/dangling" is not in the image (it resolves to "/opt/gone")',
    );
    expect(refused('/bin/nope')).toContain('(it resolves to "/usr/bin/nope")');
  });

  it('refuses a directory and a file that is not executable', () => {
    expect(refused('/usr/share')).toContain('"/usr/share" is a directory in the image');
    expect(refused('/etc/motd')).toContain('"/etc/motd" is not executable in the image (mode 644)');
  });

  it('accepts what a launch adds: a host file, a listed host directory, an include tar member, a volume', () => {
    expect(
      checkTarget('/usr/bin/jq', sources({ hostFiles: [hostFile('/usr/bin/jq')] }), false),
    ).toBeUndefined();
    expect(
      checkTarget('/opt/tool/run', sources({ hostFiles: [hostFile('/opt/tool')] }), false),
    ).toBeUndefined();
    // Through the image's link: /bin/jq is /usr/bin/jq inside, where the host file lands.
    expect(
      checkTarget('/usr/bin/jq', sources({ hostFiles: [hostFile('/bin/jq')] }), false),
    ).toBeUndefined();
    expect(
      checkTarget('/bin/jq', sources({ hostFiles: [hostFile('/usr/bin/jq')] }), false),
    ).toBeUndefined();
    expect(
      checkTarget('/opt/t/run', sources({ includeNames: () => ['opt/t/run'] }), false),
    ).toBeUndefined();
    expect(checkTarget('/data/bin/x', sources({ volumes: ['/data'] }), false)).toBeUndefined();
    expect(
      refused('/opt/t/other', { includeNames: () => ['opt/t/run'], volumes: ['/dat'] }),
    ).toContain('not in the image');
  });

  it('with --force, registers anyway and says so', () => {
    expect(checkTarget('/usr/bin/nope', sources(), true)).toBe(
      '--target "/usr/bin/nope" is not in the image, nor among its host files, include tars or volumes: registered anyway (--force); the app fails until something provides it',
    );
  });
});
