/** The images a flake names, as the store holds them: each ref at the digest it is pinned to. */
import { PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import type { Flake } from '../core/flake-file.js';
import { type ImageRecord, readImageById, resolveImage } from '../core/image-record.js';
import type { PilotPaths } from '../core/paths.js';
import type { PlanImages } from './launch-plan.js';

/** The image a flake ref is pinned to; an image gone from the store is an error naming the fix. */
export function pinnedImage(paths: PilotPaths, flake: Flake, ref: string): ImageRecord {
  const pinned = flake.container.digests[ref];
  if (!pinned) return resolveImage(paths, ref);
  const record = readImageById(paths, pinned);
  if (record) return record;
  throw new PilotError(
    'PILOT_IMAGE_UNKNOWN',
    `image ${quoteExcerpt(ref)} (${pinned}) that this app is registered with is gone from the store`,
    {
      hint: `load it again ("pilot load ARCHIVE"), or re-pin the app with "pilot register --force ..."`,
      exitCode: 127,
    },
  );
}

export function flakeImages(paths: PilotPaths, flake: Flake): PlanImages {
  const c = flake.container;
  return {
    top: pinnedImage(paths, flake, c.name),
    layers: c.layers.map((ref) => pinnedImage(paths, flake, ref)),
    base: c.base_container ? pinnedImage(paths, flake, c.base_container) : undefined,
  };
}
