/**
 * `pilot images`: the store's images, each with the registered apps that pin it
 * (store/images.ts sizes them; the CLI prints the table or the JSON).
 */
import { loadApps, pinnedIds } from '../core/app-registry.js';
import type { PilotPaths } from '../core/paths.js';
import { type ImageSummary, listImages } from '../store/images.js';

export function listStoreImages(paths: PilotPaths): ImageSummary[] {
  const apps = loadApps(paths);
  const usedBy = (id: string) => apps.filter((a) => pinnedIds(a).includes(id)).map((a) => a.app);
  return listImages(paths, usedBy);
}
