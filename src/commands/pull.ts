/**
 * `pilot pull REF` (and register's pull of a missing image): where an image comes from.
 *
 *  - A ref that names a registry (its first part has a "." or ":"): the registry,
 *    fetching only what the store lacks (store/registry-pull.ts). Only when the registry
 *    cannot be reached at all is podman's storage asked for the same name (an image
 *    built or pulled by podman on a host that is offline).
 *  - `localhost/NAME`: podman's own storage first (podman names what it builds so),
 *    then a registry at localhost.
 *  - A short name: podman's storage only; no registry is guessed (DESIGN.md).
 *
 * A registry pull is checked against the containers trust policy (store/trust/) before
 * any blob is fetched. A copy from podman's storage is not: podman applied the same
 * policy when it pulled the image, and an image podman built was never signed.
 */
import { isPilotError, PilotError } from '../core/errors.js';
import { quoteExcerpt } from '../core/excerpt.js';
import { isFullyQualified } from '../core/image-record.js';
import type { PilotPaths } from '../core/paths.js';
import type { LoadResult } from '../store/load.js';
import { refProblem } from '../store/ref-names.js';
import type { RegistryPullOptions } from '../store/registry-pull.js';
import { loadSummary } from './load.js';

export interface PullOptions extends RegistryPullOptions {
  /** `--signature-policy FILE`: the trust policy (default: the containers tools' own). */
  signaturePolicy?: string | undefined;
  /** `--registries.d DIR`: where the policy's signature lookaside URLs are configured. */
  registriesDir?: string | undefined;
  onWarning?: ((message: string) => void) | undefined;
  /** The podman command (tests point it elsewhere). */
  podman?: string | undefined;
}

export interface PullOutcome {
  results: LoadResult[];
  /** `registry` (only missing blobs fetched) or `podman` (copied from podman's storage). */
  from: 'registry' | 'podman';
  /** Registry pulls: layer blobs fetched and their bytes. */
  fetchedLayers?: number;
  fetchedBytes?: number;
}

export type PullOrder = ('registry' | 'podman')[];

/** Where `ref` is looked for, in order. */
export function pullOrder(ref: string): PullOrder {
  if (!isFullyQualified(ref)) return ['podman'];
  if (ref.split('/')[0] === 'localhost') return ['podman', 'registry'];
  return ['registry', 'podman'];
}

async function fromRegistry(
  paths: PilotPaths,
  ref: string,
  options: PullOptions,
): Promise<PullOutcome> {
  const { pullFromRegistry } = await import('../store/registry-pull.js');
  let trust = options.trust;
  if (trust === undefined) {
    // Read before the registry is asked: a broken or missing policy fails at once.
    const { evaluateTrust, readTrustConfig } = await import('../store/trust/index.js');
    const config = readTrustConfig({
      signaturePolicy: options.signaturePolicy,
      registriesDir: options.registriesDir,
    });
    trust = (request) => evaluateTrust(config, request);
  }
  const result = await pullFromRegistry(paths, ref, { ...options, trust });
  return {
    results: [result],
    from: 'registry',
    fetchedLayers: result.fetchedLayers,
    fetchedBytes: result.fetchedBytes,
  };
}

async function fromPodman(
  paths: PilotPaths,
  ref: string,
  options: PullOptions,
): Promise<PullOutcome> {
  const { pullImage } = await import('../store/pull.js');
  const results = await pullImage(paths, ref, {
    name: options.name,
    onProgress: options.onProgress,
    onWarning: options.onWarning,
    ...(options.podman !== undefined ? { podman: options.podman } : {}),
  });
  return { results, from: 'podman' };
}

export async function pullRef(
  paths: PilotPaths,
  ref: string,
  options: PullOptions = {},
): Promise<PullOutcome> {
  const problem = refProblem(ref);
  if (problem !== undefined) {
    throw new PilotError(
      'PILOT_USAGE',
      `${quoteExcerpt(ref)} is not a valid image reference: ${problem}`,
      {
        hint: 'use [REGISTRY/]PATH[:TAG][@sha256:DIGEST], e.g. registry.example.com/team/app:1.0',
      },
    );
  }
  const [first, second] = pullOrder(ref);
  if (first === 'podman') {
    try {
      return await fromPodman(paths, ref, options);
    } catch (error) {
      if (!isPilotError(error) || error.code !== 'PILOT_PULL_FAILED') throw error;
      if (second === undefined) {
        throw new PilotError('PILOT_PULL_FAILED', error.message, {
          hint: `a short name is looked up in podman's storage only; to pull from a registry, name it in full (e.g. registry.example.com/${ref}), or "pilot load" a saved archive`,
        });
      }
      try {
        return await fromRegistry(paths, ref, options);
      } catch (registryError) {
        if (!isPilotError(registryError)) throw registryError;
        throw new PilotError(
          registryError.code,
          `${registryError.message}\n  (podman's storage does not have it either: ${error.message.replace(/\n\s*/g, ' ')})`,
          { hint: registryError.hint },
        );
      }
    }
  }
  try {
    return await fromRegistry(paths, ref, options);
  } catch (error) {
    if (!isPilotError(error) || error.code !== 'PILOT_REGISTRY_UNREACHABLE') throw error;
    // An offline host may still have the image in podman's storage.
    try {
      const outcome = await fromPodman(paths, ref, options);
      options.onWarning?.(
        `${error.message.replace(/\n\s*/g, ' ')}; took the copy in podman's storage`,
      );
      return outcome;
    } catch (podmanError) {
      // Podman has it but could not hand it over (a full disk): that is the story.
      if (isPilotError(podmanError) && podmanError.code === 'PILOT_PULL_FAILED') throw error;
      throw podmanError;
    }
  }
}

/** `pull --json`: each image, where it came from, and what a registry pull fetched. */
export function pullSummaries(outcome: PullOutcome) {
  return outcome.results.map((r) => ({
    ...loadSummary(r),
    from: outcome.from,
    ...(outcome.fetchedLayers !== undefined
      ? { fetchedLayers: outcome.fetchedLayers, fetchedBytes: outcome.fetchedBytes }
      : {}),
  }));
}
