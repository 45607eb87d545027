/**
 * Finds and reads the trust configuration the way the containers tools (podman, skopeo,
 * buildah) find theirs (the search order is in ../containers-config.ts), so that one
 * policy governs every tool on the host:
 *
 * - policy.json: `--signature-policy FILE`, else the user's or the system's. No policy at
 *   all is an error, never "accept everything".
 * - registries.d: `--registries.d DIR`, else the user's or the system's (a missing default
 *   directory is an empty one).
 */
import { readFileSync } from 'node:fs';
import { errnoOf, PilotError } from '../../core/errors.js';
import { builtinSigstore, containersDirs, userOrSystemPath } from '../containers-config.js';
import { type Policy, parsePolicy } from './policy.js';
import { type RegistriesConfig, readRegistriesDir } from './registries-d.js';

export interface TrustConfig {
  policy: Policy;
  registries: RegistriesConfig;
  /** The gpgv program signedBy runs. */
  gpgv: string;
}

export interface TrustConfigOptions {
  /** `--signature-policy FILE`. */
  signaturePolicy?: string | undefined;
  /** `--registries.d DIR`. */
  registriesDir?: string | undefined;
  /** The home directory whose ~/.config/containers is read (default: $HOME). */
  home?: string | undefined;
  /** The system configuration directory (default: /etc/containers). */
  systemDir?: string | undefined;
  /** The gpgv program (default: gpgv from PATH). */
  gpgv?: string | undefined;
}

function readPolicyFile(file: string, named: boolean): Policy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = errnoOf(error);
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EISDIR'
          ? 'is a directory'
          : `cannot be read (${(error as Error).message})`;
    throw new PilotError('PILOT_POLICY_INVALID', `the trust policy ${file} ${why}`, {
      hint: named
        ? 'name an existing policy.json with --signature-policy FILE'
        : `create ${file} (Debian: apt-get install golang-github-containers-common, or write {"default": [{"type": "reject"}], "transports": {…}} as containers-policy.json(5) describes), or name one with --signature-policy FILE`,
      cause: error,
    });
  }
  return parsePolicy(file, text);
}

/** Reads the policy and registries.d that govern a pull. */
export function readTrustConfig(options: TrustConfigOptions = {}): TrustConfig {
  const dirs = containersDirs({
    ...(options.home !== undefined ? { home: options.home } : {}),
    ...(options.systemDir !== undefined ? { systemDir: options.systemDir } : {}),
  });
  const policy =
    options.signaturePolicy !== undefined
      ? readPolicyFile(options.signaturePolicy, true)
      : readPolicyFile(userOrSystemPath(dirs, 'policy.json'), false);
  const registries =
    options.registriesDir !== undefined
      ? readRegistriesDir(options.registriesDir, true, builtinSigstore(dirs))
      : readRegistriesDir(userOrSystemPath(dirs, 'registries.d'), false, builtinSigstore(dirs));
  return { policy, registries, gpgv: options.gpgv ?? 'gpgv' };
}
