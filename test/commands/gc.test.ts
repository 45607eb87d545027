/** `pilot gc`: who may collect a store, and what it does with no store and with broken flakes. */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { gcRefusal, runGc } from '../../src/commands/gc.js';
import { type PilotPaths, resolvePaths } from '../../src/core/paths.js';

describe('gcRefusal', () => {
  const paths = resolvePaths({ root: '/srv/root' });

  it('lets root collect any store, and a user its own', () => {
    expect(gcRefusal(paths, 1000, 0)).toBeUndefined();
    expect(gcRefusal(paths, 0, 0)).toBeUndefined();
    expect(gcRefusal(paths, 1000, 1000)).toBeUndefined();
  });

  it("refuses a user another's store, naming the store and its owner, and says to run as root", () => {
    const refusal = gcRefusal(paths, 0, 1000);
    expect(refusal).toMatchObject({
      code: 'PILOT_NEEDS_PRIVILEGE',
      message: `the store ${paths.store} belongs to uid 0: only root can see what its apps use`,
      hint: 'run "pilot gc" as root',
    });
    expect(gcRefusal(paths, 1001, 1000)?.code).toBe('PILOT_NEEDS_PRIVILEGE');
  });
});

describe('runGc', () => {
  let dir: string;
  let paths: PilotPaths;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-gc-'));
    paths = resolvePaths({ root: join(dir, 'root') });
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('removes nothing and creates no store when there is none', async () => {
    expect(await runGc(paths)).toEqual({
      images: [],
      layers: [],
      bytesFreed: 0,
      hostLayers: [],
      plans: [],
      leftovers: [],
      unreadable: [],
      failed: [],
    });
    expect(existsSync(paths.store)).toBe(false);
  });

  it('names the apps whose flakes cannot be read', async () => {
    mkdirSync(paths.flakes, { recursive: true });
    writeFileSync(join(paths.flakes, 'broken.yaml'), 'container: [\n');
    writeFileSync(join(paths.flakes, 'fine.yaml'), 'container:\n  name: busybox\n');
    expect((await runGc(paths)).unreadable).toEqual(['broken']);
  });
});
