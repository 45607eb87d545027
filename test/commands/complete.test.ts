/** `pilot __complete apps|images`: the names the completion scripts offer. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completionWords } from '../../src/commands/complete.js';
import { type PilotPaths, resolvePaths, storeDirs } from '../../src/core/paths.js';

let dir: string;
let paths: PilotPaths;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-complete-'));
  paths = resolvePaths({ root: join(dir, 'root') });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('completionWords', () => {
  it('offers nothing before anything is registered or loaded', () => {
    expect(completionWords(paths, 'apps')).toEqual([]);
    expect(completionWords(paths, 'images')).toEqual([]);
  });

  it('lists app names (a broken flake too: names only, nothing parsed) and image names, sorted', () => {
    mkdirSync(paths.flakes, { recursive: true });
    writeFileSync(join(paths.flakes, 'world.yaml'), 'container:\n  name: busybox\n');
    writeFileSync(join(paths.flakes, 'broken.yaml'), 'container: [\n');
    mkdirSync(storeDirs.refs(paths), { recursive: true });
    const id = `sha256:${'a'.repeat(64)}`;
    for (const name of ['test/world:latest', 'test/hello:1']) {
      writeFileSync(join(storeDirs.refs(paths), encodeURIComponent(name)), id);
    }
    expect(completionWords(paths, 'apps')).toEqual(['broken', 'world']);
    expect(completionWords(paths, 'images')).toEqual(['test/hello:1', 'test/world:latest']);
  });

  it('refuses any other kind as a usage error', () => {
    expect(() => completionWords(paths, 'layers')).toThrow(
      expect.objectContaining({
        code: 'PILOT_USAGE',
        message: 'cannot complete "layers": use apps or images',
      }),
    );
  });
});
