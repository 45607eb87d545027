// Bundles the CLI and the launcher.
// - The CLI (dist/pilot.mjs) has lazily loaded chunks in dist/chunks/, one per command.
// - The launcher is two files: dist/pilot-launch.mjs (pilot/launch-entry.ts, what an app's
//   link reaches) runs dist/chunks/launch.cjs (pilot/main.ts and all it may load, as one
//   CommonJS script) through V8's code cache, which only a script (vm.Script) can use in
//   Node 20. As one script, the launcher's cold paths (the YAML parser, the tar extractor)
//   are functions that are neither compiled nor run until a launch needs them.
//   bench/launcher-profile.mjs shows where its start-up goes.
// Each bundle and chunk has its source map beside it (FILE.map, no sourceMappingURL
// comment, so Node never loads one at start-up): only the printer of an internal error
// reads them (src/core/internal-stack.ts), so that its stack points at src/…:LINE.
// The version is written in as a constant: no bundle parses package.json.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));

// Bundled CommonJS (yaml) calls `require` for built-ins. A function, not a
// `createRequire()` per chunk at load time: only a chunk that requires pays for it.
const requireShim =
  "import { createRequire as __pilotCreateRequire } from 'node:module'; " +
  'function require(id) { return __pilotCreateRequire(import.meta.url)(id); }';

const common = {
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  minify: false,
  sourcemap: 'external',
  sourcesContent: false,
  define: { PILOT_VERSION: JSON.stringify(version) },
  logLevel: 'warning',
  banner: { js: `#!/usr/bin/env node\n${requireShim}` },
};

rmSync('dist/chunks', { recursive: true, force: true });
await Promise.all([
  build({ ...common, entryPoints: { pilot: 'src/cli.ts' }, chunkNames: 'chunks/[name]-[hash]' }),
  build({ ...common, entryPoints: { 'pilot-launch': 'pilot/launch-entry.ts' }, splitting: false }),
  build({
    ...common,
    entryPoints: { 'chunks/launch': 'pilot/main.ts' },
    outExtension: { '.js': '.cjs' },
    splitting: false,
    format: 'cjs',
    // launch-entry.ts runs it with the CommonJS wrapper's arguments and its file's URL.
    define: { ...common.define, 'import.meta.url': '__pilotImportMetaUrl' },
    banner: {},
  }),
]);
