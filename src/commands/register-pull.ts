/**
 * `register --pull=missing` (the default): an image named by --container, --base or
 * --layer that the store lacks is pulled first when its name is fully qualified
 * (DESIGN.md); a short name the store lacks stays an unknown image, reported by
 * register itself. `--pull=never` pulls nothing.
 */
import { isPilotError, PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import { isFullyQualified, resolveImage } from '../core/image-record.js';
import type { PilotPaths } from '../core/paths.js';
import { type PullOptions, type PullOutcome, pullRef } from './pull.js';

export type PullPolicy = 'missing' | 'never';

export function parsePullPolicy(value: string): PullPolicy {
  if (value === 'missing' || value === 'never') return value;
  throw new PilotError('PILOT_USAGE', `--pull ${quoteExcerpt(value)} is not a pull policy`, {
    hint: 'give --pull=missing (pull a fully qualified image the store lacks; the default) or --pull=never',
  });
}

function inStore(paths: PilotPaths, ref: string): boolean {
  try {
    resolveImage(paths, ref);
    return true;
  } catch (error) {
    if (isPilotError(error) && error.code === 'PILOT_IMAGE_UNKNOWN') return false;
    throw error;
  }
}

/** The refs register would pull: fully qualified ones the store lacks, each once. */
export function refsToPull(paths: PilotPaths, refs: (string | undefined)[]): string[] {
  const wanted = new Set<string>();
  for (const ref of refs) {
    if (ref === undefined || wanted.has(ref) || !isFullyQualified(ref)) continue;
    if (!inStore(paths, ref)) wanted.add(ref);
  }
  return [...wanted];
}

/** Pulls what `refsToPull` names (nothing under --pull=never); `onPull` hears each first. */
export async function pullMissingImages(
  paths: PilotPaths,
  refs: (string | undefined)[],
  policy: PullPolicy,
  options: PullOptions & { onPull?: (ref: string) => PullOptions['onProgress'] },
): Promise<PullOutcome[]> {
  if (policy === 'never') return [];
  const outcomes: PullOutcome[] = [];
  for (const ref of refsToPull(paths, refs)) {
    const onProgress = options.onPull?.(ref);
    outcomes.push(await pullRef(paths, ref, { ...options, onProgress }));
  }
  return outcomes;
}
