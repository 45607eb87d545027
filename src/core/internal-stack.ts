/**
 * The stack of an internal error (a bug of pilot's) in terms of the source: each frame in
 * a bundle (`/usr/libexec/pilot/chunks/x.mjs:812:11`) becomes `src/store/load.ts:97:5`
 * through the source map build.mjs writes beside each bundle and chunk. Node's own
 * SourceMap class reads it; nothing is loaded until an internal error is printed, since
 * enabling source maps for the whole process (--enable-source-maps) would cost every
 * launch its start-up budget. A frame without a readable map stays as it was.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

/** `file:///…/x.mjs:LINE:COLUMN` or `/…/x.cjs:LINE:COLUMN` (the launcher) in a stack line. */
const FRAME = /((?:file:\/\/)?\/[^\s()]+?\.[cm]js):(\d+):(\d+)/g;

function loadMap(file: string, cache: Map<string, SourceMap | undefined>): SourceMap | undefined {
  if (cache.has(file)) return cache.get(file);
  let map: SourceMap | undefined;
  try {
    const path = file.startsWith('file:') ? fileURLToPath(file) : file;
    map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')));
  } catch {
    map = undefined; // no map beside it (a dev build, a removed file): the frame stays
  }
  cache.set(file, map);
  return map;
}

/** A source path as the map names it (`../src/core/x.ts`), from the repository's root. */
function sourceName(source: string): string {
  const path = source.startsWith('file:') ? fileURLToPath(source) : source;
  const at = path.lastIndexOf('/src/');
  const pilotAt = path.lastIndexOf('/pilot/');
  const cut = Math.max(at, pilotAt);
  if (cut >= 0) return path.slice(cut + 1);
  return path.replace(/^(?:\.\.\/)+/, '');
}

/** `stack` with every bundle frame that has a source map pointed at the source. */
export function mapStack(stack: string): string {
  const cache = new Map<string, SourceMap | undefined>();
  return stack.replace(FRAME, (frame, file: string, line: string, column: string) => {
    const map = loadMap(file, cache);
    const entry = map?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry) || !entry.originalSource) return frame;
    return `${sourceName(entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}
