/**
 * Every example flake in the repository's `flakes/` (with its `.d/` drop-ins) must load
 * without an error and without a warning, so that the examples never rot.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assertAppName, loadFlake } from '../../src/core/flake-file.js';

const flakesDir = fileURLToPath(new URL('../../flakes', import.meta.url));
const apps = readdirSync(flakesDir)
  .filter((name) => name.endsWith('.yaml'))
  .map((name) => name.slice(0, -'.yaml'.length))
  .sort();

describe('flakes/', () => {
  it('holds example flakes (a moved or emptied dir must not pass with no case)', () => {
    expect(apps.length).toBeGreaterThan(0);
  });

  it('holds only flakes named like apps', () => {
    for (const app of apps) expect(() => assertAppName(app), app).not.toThrow();
  });

  it.each(apps)('%s.yaml loads without errors or warnings', (app) => {
    const { flake, warnings } = loadFlake(flakesDir, app);
    expect(warnings).toEqual([]);
    expect(flake.container.name).not.toBe('');
  });
});
