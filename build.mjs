// Bundles the two entries (the CLI and the launcher) with shared, lazily loaded
// chunks in dist/chunks/: the launcher's warm start parses only what it runs;
// the YAML parser and the tar extractor are loaded when a launch needs them.
// Each bundle and chunk has its source map beside it (FILE.mjs.map, no sourceMappingURL
// comment, so Node never loads one at start-up): only the printer of an internal error
// reads them (src/core/internal-stack.ts), so that its stack points at src/…:LINE.
// The version is written in as a constant: no bundle parses package.json.
import { readFileSync, rmSync } from 'node:fs';
import { build } from 'esbuild';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
rmSync('dist/chunks', { recursive: true, force: true });
await build({
  entryPoints: { pilot: 'src/cli.ts', 'pilot-launch': 'pilot/main.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
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
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __pilotCreateRequire } from 'node:module'; const require = __pilotCreateRequire(import.meta.url);",
  },
});
