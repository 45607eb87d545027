// Bundles the two entries (the CLI and the launcher), each with its own lazily loaded
// chunks in dist/chunks/. They are two builds, not one with shared chunks: the chunks two
// entries share are cut by what each lazy import needs, and the launcher's warm start
// then loaded some 27 small files, each resolved, read, compiled and linked on its own.
// Built alone, the launcher's start-up graph is its entry and the few chunks its lazy
// imports share with it (bench/launcher-profile.mjs counts them); the YAML parser and
// the tar extractor are loaded when a launch needs them. Its chunks are named launch-*.
// Each bundle and chunk has its source map beside it (FILE.mjs.map, no sourceMappingURL
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
  build({
    ...common,
    entryPoints: { 'pilot-launch': 'pilot/main.ts' },
    chunkNames: 'chunks/launch-[name]-[hash]',
  }),
]);
