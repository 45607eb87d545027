/**
 * `pilot __complete apps|images`, what the completion scripts ask for at each TAB: names
 * only, from directory listings (no flake parsing), sorted.
 */
import { appNames } from '../core/app-registry.js';
import { PilotError } from '../core/errors.js';
import { listRefs } from '../core/image-record.js';
import type { PilotPaths } from '../core/paths.js';

export function completionWords(paths: PilotPaths, kind: string): string[] {
  if (kind === 'apps') return appNames(paths);
  if (kind === 'images') return [...listRefs(paths).keys()].sort();
  throw new PilotError('PILOT_USAGE', `cannot complete "${kind}": use apps or images`);
}
