/**
 * Finds and reads the trust configuration the way the containers tools (podman, skopeo,
 * buildah) find theirs, so that one policy governs every tool on the host:
 *
 * - policy.json: `--signature-policy FILE`, else `$HOME/.config/containers/policy.json`
 *   when it exists, else `/etc/containers/policy.json`. No policy at all is an error,
 *   never "accept everything".
 * - registries.d: `--registries.d DIR`, else `$HOME/.config/containers/registries.d` when
 *   it exists, else `/etc/containers/registries.d` (a missing default directory is an
 *   empty one).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { errnoOf, PilotError } from '../../core/errors.js';
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

const SYSTEM_DIR = '/etc/containers';

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
  const home = options.home ?? process.env.HOME ?? homedir();
  const systemDir = options.systemDir ?? SYSTEM_DIR;
  const userDir = join(home, '.config/containers');

  let policy: Policy;
  if (options.signaturePolicy !== undefined) policy = readPolicyFile(options.signaturePolicy, true);
  else {
    const userPolicy = join(userDir, 'policy.json');
    policy = readPolicyFile(
      existsSync(userPolicy) ? userPolicy : join(systemDir, 'policy.json'),
      false,
    );
  }

  // The containers tools' built-in signature directory: root's, or the user's own.
  const builtinLookaside =
    process.geteuid?.() === 0
      ? 'file:///var/lib/containers/sigstore'
      : `file://${join(home, '.local/share/containers/sigstore')}`;
  let registries: RegistriesConfig;
  if (options.registriesDir !== undefined) {
    registries = readRegistriesDir(options.registriesDir, true, builtinLookaside);
  } else {
    const userRegistries = join(userDir, 'registries.d');
    const dir = existsSync(userRegistries) ? userRegistries : join(systemDir, 'registries.d');
    registries = readRegistriesDir(dir, false, builtinLookaside);
  }
  return { policy, registries, gpgv: options.gpgv ?? 'gpgv' };
}
