/**
 * Load-time measurement (not a test): `node bench-load.mjs ARCHIVE [RUNS]`.
 * Bundle first: `npx esbuild test/store/scripts/bench-load.ts --bundle --platform=node
 * --format=esm --outfile=/tmp/bench-load.mjs`. Each run loads ARCHIVE into a fresh
 * temporary store, then once more into the same store (all layers present), and prints
 * wall and CPU time plus the store's size.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePaths } from '../../../src/core/paths.js';
import { loadArchive } from '../../../src/store/load.js';

const [archive, runsText] = process.argv.slice(2);
if (!archive) {
  process.stderr.write('usage: bench-load ARCHIVE [RUNS]\n');
  process.exit(2);
}
for (let run = 0; run < Number(runsText ?? 3); run++) {
  const dir = mkdtempSync(join(tmpdir(), 'pilot-bench-'));
  try {
    const paths = resolvePaths({ root: dir });
    execFileSync('sync');
    const cpu = process.cpuUsage();
    const start = performance.now();
    await loadArchive(paths, archive);
    const fresh = performance.now() - start;
    const used = process.cpuUsage(cpu);
    const again = performance.now();
    await loadArchive(paths, archive);
    const reload = performance.now() - again;
    const du = execFileSync('du', ['-sh', paths.store]).toString().split('\t')[0];
    process.stdout.write(
      `${JSON.stringify({
        run,
        freshMs: Math.round(fresh),
        nodeCpuMs: Math.round((used.user + used.system) / 1000),
        reloadMs: Math.round(reload),
        store: du,
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
