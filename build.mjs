// Bundles each entry to one file. The launcher bundle must stay small: it is on
// every app launch, so it may import only node built-ins, yaml and src/core.
import { build } from 'esbuild';

const common = {
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
};

await build({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/pilot.mjs' });
await build({ ...common, entryPoints: ['pilot/main.ts'], outfile: 'dist/pilot-launch.mjs' });
