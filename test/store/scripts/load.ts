/** Child-process entry for the concurrency and crash tests: `node load.mjs ROOT ARCHIVE`. */
import { resolvePaths } from '../../../src/core/paths.js';
import { loadArchive } from '../../../src/store/load.js';

const [root, source] = process.argv.slice(2);
const results = await loadArchive(resolvePaths({ root: root! }), source!);
process.stdout.write(
  `${JSON.stringify(results.map((r) => ({ id: r.image.id, newLayers: r.newLayers, reusedLayers: r.reusedLayers })))}\n`,
);
