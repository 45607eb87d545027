/**
 * `pilot rmi REF [--force]`: removes an image name (an id: every name of that image).
 * An image a registered app pins is refused without --force; its layers stay until
 * `pilot gc`.
 */
import { appsUsingImage } from '../core/app-registry.js';
import type { PilotPaths } from '../core/paths.js';
import { type RemoveResult, removeImageRef } from '../store/images.js';

export function removeImageName(paths: PilotPaths, ref: string, force: boolean): RemoveResult {
  return removeImageRef(paths, ref, {
    force,
    usedBy: (id: string) => appsUsingImage(paths, id),
  });
}
