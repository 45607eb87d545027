/**
 * A layer blob from the registry into a file of the pull's temp dir, through sha256:
 * refused on the first byte past the size its manifest gives, when it ends short, and
 * when its digest differs. Nothing but that file is written; the caller removes it.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errnoOf, PilotError } from '../../core/errors.js';
import { withPath } from '../../core/system-error.js';

export function digestMismatch(what: string, registry: string, actual: string, expected: string) {
  return new PilotError(
    'PILOT_DIGEST_MISMATCH',
    `${what} from ${registry} has the digest ${actual}, not ${expected}`,
    {
      hint: 'the registry (or something between) serves damaged or altered data; nothing was stored: pull again, and tell its operator if it persists',
    },
  );
}

export interface BlobContext {
  /** For messages: `layer 2/3 (sha256:…) of REF`. */
  what: string;
  registry: string;
  onBytes?: ((bytes: number) => void) | undefined;
}

export async function streamBlob(
  body: Readable,
  descriptor: { digest: string; size: number },
  file: string,
  { what, registry, onBytes }: BlobContext,
): Promise<void> {
  const hash = createHash('sha256');
  let size = 0;
  const name = `${what} (blob ${descriptor.digest}) from ${registry}`;
  try {
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          if (size > descriptor.size) {
            throw new PilotError(
              'PILOT_DIGEST_MISMATCH',
              `${name} is longer than the ${descriptor.size} bytes its manifest gives`,
              {
                hint: 'the registry serves damaged or altered data; nothing was stored: tell its operator',
              },
            );
          }
          hash.update(chunk);
          onBytes?.(chunk.length);
          yield chunk;
        }
      },
      createWriteStream(file, { flags: 'wx', mode: 0o600 }),
    );
  } catch (error) {
    if (error instanceof PilotError) throw error;
    const code = errnoOf(error);
    if (code === 'ENOSPC' || code === 'EDQUOT') throw withPath(error, file);
    throw new PilotError(
      'PILOT_REGISTRY_UNREACHABLE',
      `the connection to ${registry} broke while fetching ${what} (blob ${descriptor.digest}) after ${size} of ${descriptor.size} bytes: ${(error as Error).message}`,
      {
        hint: 'pull again: what is complete stays in the store, only the rest is fetched',
        cause: error,
      },
    );
  }
  if (size < descriptor.size) {
    throw new PilotError(
      'PILOT_DIGEST_MISMATCH',
      `${name} ended after ${size} of the ${descriptor.size} bytes its manifest gives`,
      {
        hint: 'pull again; if it persists, the registry serves a truncated blob: tell its operator',
      },
    );
  }
  const digest = `sha256:${hash.digest('hex')}`;
  if (digest !== descriptor.digest) throw digestMismatch(what, registry, digest, descriptor.digest);
}
