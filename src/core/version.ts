/**
 * pilot's version. The bundles carry it as a constant (build.mjs: esbuild `define`), so
 * that neither the CLI nor the launcher parses package.json, whose other fields nothing
 * needs; run from source (the unit tests), it is read from package.json.
 */
import { readFileSync } from 'node:fs';

declare const PILOT_VERSION: string | undefined;

export const VERSION: string =
  typeof PILOT_VERSION === 'string'
    ? PILOT_VERSION
    : (
        JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
          version: string;
        }
      ).version;
