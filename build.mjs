// Bundles the two entries (the CLI and the launcher) with shared, lazily loaded
// chunks in dist/chunks/: the launcher's warm start parses only what it runs;
// the YAML parser and the tar extractor are loaded when a launch needs them.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

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
  sourcemap: false,
  logLevel: 'warning',
  banner: {
    js: "#!/usr/bin/env node\nimport { createRequire as __pilotCreateRequire } from 'node:module'; const require = __pilotCreateRequire(import.meta.url);",
  },
});
