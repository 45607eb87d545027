/**
 * The launcher's start-up budget. build.mjs bundles pilot/main.ts as one script, in
 * which a module that is imported lazily is a function run on first use: what the
 * entry imports statically (as an ES build with chunks shows it here) is what every
 * launch evaluates. No module it can load pulls in fs-extra, which the CLI uses for
 * generic tree work (removing a package stage, a GnuPG home). The launch path makes and
 * removes its trees with its own helpers (core/modes.ts makeDirs, core/temp-entries.ts
 * removeTree), which carry what fs-extra does not: exact modes under any umask, removal
 * of trees past PATH_MAX or made read-only by an image.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/** The entry bundled alone with its lazy imports as chunks, with esbuild's metafile. */
async function metafileOf(entry: string) {
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
  return result.metafile;
}

function packageNames(inputs: string[]): string[] {
  const names = inputs
    .filter((input) => input.includes('node_modules/'))
    .map((input) => input.replace(/.*node_modules\//, '').split('/')[0]!);
  return [...new Set(names)].sort();
}

/** Every package the entry can load, at start-up or later. */
async function packagesOf(entry: string): Promise<string[]> {
  return packageNames(Object.keys((await metafileOf(entry)).inputs));
}

/**
 * The packages the entry's bundle loads before it runs a line: its own output and the
 * chunks it imports statically, transitively (not what a dynamic import() brings later).
 */
async function packagesAtStartup(entry: string): Promise<string[]> {
  const { packages } = await startup(entry);
  return packages;
}

/** The packages and the built-in modules (`node:…`) loaded before the entry runs a line. */
async function startup(entry: string): Promise<{ packages: string[]; builtins: string[] }> {
  const outputs = (await metafileOf(entry)).outputs;
  const start = Object.keys(outputs).find((name) => outputs[name]?.entryPoint === entry);
  const seen = new Set<string>();
  const builtins = new Set<string>();
  const queue = start ? [start] : [];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    for (const imported of outputs[name]?.imports ?? []) {
      if (imported.kind !== 'import-statement') continue;
      if (imported.external) builtins.add(imported.path);
      else queue.push(imported.path);
    }
  }
  return {
    packages: packageNames([...seen].flatMap((name) => Object.keys(outputs[name]?.inputs ?? {}))),
    builtins: [...builtins].sort(),
  };
}

describe('what the launcher can load', () => {
  it('loads no execa, yaml or tar at start-up (core/tool-light.ts runs its tools)', async () => {
    const launcher = await packagesAtStartup('pilot/main.ts');
    for (const heavy of ['execa', 'yaml', 'tar', 'commander'])
      expect(launcher).not.toContain(heavy);
    // The check can see a static import at all: the CLI's start-up has commander.
    expect(await packagesAtStartup('src/cli.ts')).toContain('commander');
  }, 60_000);

  it('loads no node:crypto at start-up (core/sha256.ts, core/node-crypto.ts)', async () => {
    const { builtins } = await startup('pilot/main.ts');
    // Building Node's crypto module costs 3-10 ms: cache keys are hashed in JS and a
    // file's digest or a random name loads it when needed.
    expect(builtins).not.toContain('node:crypto');
    expect(builtins).not.toContain('crypto');
    // The check sees built-ins at all: the launcher spawns the helper.
    expect(builtins).toContain('node:child_process');
  }, 60_000);

  it('starts from an entry of built-ins and the code cache alone (pilot/launch-entry.ts)', async () => {
    const { packages, builtins } = await startup('pilot/launch-entry.ts');
    expect(packages).toEqual([]);
    expect(builtins).toEqual(['node:fs', 'node:module', 'node:path', 'node:url', 'node:vm']);
    const inputs = Object.keys((await metafileOf('pilot/launch-entry.ts')).inputs).sort();
    expect(inputs).toEqual(['pilot/code-cache.ts', 'pilot/launch-entry.ts']);
  }, 60_000);

  it('holds no fs-extra (the CLI does)', async () => {
    const launcher = await packagesOf('pilot/main.ts');
    expect(launcher).not.toContain('fs-extra');
    expect(launcher).not.toContain('graceful-fs');
    // The check can see the package at all: the CLI's graph has it.
    expect(await packagesOf('src/cli.ts')).toContain('fs-extra');
  }, 60_000);
});
