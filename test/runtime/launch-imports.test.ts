/**
 * The launcher's start-up budget: no module it can load (statically or lazily, as
 * build.mjs bundles it with shared chunks) pulls in fs-extra, which the CLI uses for
 * generic tree work (removing a package stage, a GnuPG home). The launch path makes and
 * removes its trees with its own helpers (core/modes.ts makeDirs, core/temp-entries.ts
 * removeTree), which carry what fs-extra does not: exact modes under any umask, removal
 * of trees past PATH_MAX or made read-only by an image.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

async function packagesOf(entry: string): Promise<string[]> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    outdir: 'unused',
    logLevel: 'silent',
  });
  const names = Object.keys(result.metafile.inputs)
    .filter((input) => input.includes('node_modules/'))
    .map((input) => input.replace(/.*node_modules\//, '').split('/')[0]!);
  return [...new Set(names)].sort();
}

describe('what the launcher can load', () => {
  it('holds no fs-extra (the CLI does)', async () => {
    const launcher = await packagesOf('pilot/main.ts');
    expect(launcher).not.toContain('fs-extra');
    expect(launcher).not.toContain('graceful-fs');
    // The check can see the package at all: the CLI's graph has it.
    expect(await packagesOf('src/cli.ts')).toContain('fs-extra');
  }, 60_000);
});
