/**
 * Verifies one simple-signing signature with gpgv, the verify-only half of GnuPG that
 * Debian installs everywhere (apt needs it). Each call gets a private GNUPGHOME made
 * with mkdtemp and a keyring holding only the policy's keys: the user's keyring and
 * gpg-agent are never read or touched, and gpgv trusts exactly the keys it is given.
 * What gpgv decided comes from its machine-readable --status-fd lines, never from its
 * wording on stderr.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { remove } from 'fs-extra/esm';
import { PilotError } from '../../core/errors.js';
import { runTool, type ToolResult } from '../../core/tool.js';
import { ToolError } from '../../core/tool-error.js';

export type GpgvResult =
  | { ok: true; fingerprint: string; payload: Buffer }
  | { ok: false; reason: string };

/** The signed payload is a small JSON document; more means something else was signed. */
const MAX_PAYLOAD = 64 * 1024;
const TIMEOUT_MS = 30_000;

interface Status {
  signatures: number;
  valid: string[]; // primary key fingerprints of VALIDSIG lines
  bad: string[];
  missingKeys: string[];
  expired: string[];
  revoked: string[];
}

/** Status keywords whose first argument (a key id) goes on one list of the status. */
const KEY_LISTS: Record<string, 'bad' | 'missingKeys' | 'expired' | 'revoked'> = {
  BADSIG: 'bad',
  NO_PUBKEY: 'missingKeys',
  EXPSIG: 'expired',
  EXPKEYSIG: 'expired',
  REVKEYSIG: 'revoked',
};

function readStatus(text: string): Status {
  const status: Status = {
    signatures: 0,
    valid: [],
    bad: [],
    missingKeys: [],
    expired: [],
    revoked: [],
  };
  for (const line of text.split('\n')) {
    const words = line.trim().split(' ');
    if (words[0] !== '[GNUPG:]') continue;
    const [keyword = '', ...args] = words.slice(1);
    const list = Object.hasOwn(KEY_LISTS, keyword) ? KEY_LISTS[keyword] : undefined;
    if (keyword === 'NEWSIG') status.signatures++;
    // VALIDSIG <signing key fpr> … <primary key fpr>: the policy's keys are primary keys.
    else if (keyword === 'VALIDSIG') status.valid.push((args[9] ?? args[0] ?? '').toUpperCase());
    else if (list !== undefined) status[list].push(args[0] ?? '');
  }
  return status;
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join('; ') || 'no output';
}

/**
 * Checks that `signature` is an OpenPGP signed message with exactly one signature, made
 * by a key of `keyring` (binary), and returns the primary fingerprint and what was signed.
 * A missing gpgv is a PilotError: nothing can be verified without it.
 */
export async function verifyWithGpgv(
  gpgv: string,
  keyring: Buffer,
  signature: Buffer,
): Promise<GpgvResult> {
  const home = mkdtempSync(join(tmpdir(), 'pilot-gpgv-'));
  try {
    const keyringFile = join(home, 'policy-keys.gpg');
    const signatureFile = join(home, 'signature');
    writeFileSync(keyringFile, keyring, { mode: 0o600 });
    writeFileSync(signatureFile, signature, { mode: 0o600 });
    const args = ['--status-fd', '3', '--keyring', keyringFile, '--output', '-', signatureFile];
    let result: ToolResult<Buffer>;
    try {
      // Any exit status: gpgv's status lines (fd 3) say what it found, and are read below.
      result = await runTool([gpgv, ...args], {
        purpose: 'cannot verify image signatures',
        env: { GNUPGHOME: home, LC_ALL: 'C' },
        encoding: 'buffer',
        extraPipes: 1,
        okExitCodes: 'any',
        timeout: TIMEOUT_MS,
        maxBuffer: MAX_PAYLOAD,
      });
    } catch (error) {
      if (!(error instanceof ToolError)) throw error;
      if (error.timedOut)
        return { ok: false, reason: `gpgv did not finish within ${TIMEOUT_MS / 1000} s` };
      if (error.overflowed) {
        return {
          ok: false,
          reason: `the signed payload is larger than ${MAX_PAYLOAD} bytes, not a container signature`,
        };
      }
      if (!error.missing) throw error; // it could not run, or died
      // Nothing can be verified without it.
      throw new PilotError(error.code, error.message, {
        hint: 'install gpgv (Debian: apt-get install gpgv), which the trust policy needs for signedBy',
        cause: error,
      });
    }
    const stderr = result.stderr;
    const status = readStatus((result.extra[0] ?? Buffer.alloc(0)).toString());
    if (status.signatures > 1) {
      return {
        ok: false,
        reason: `it holds ${status.signatures} signatures; a simple signature has one`,
      };
    }
    if (status.bad.length > 0)
      return {
        ok: false,
        reason: `the signature does not verify (BADSIG by key ${status.bad[0]}): the signature or its payload was changed`,
      };
    if (status.missingKeys.length > 0)
      return {
        ok: false,
        reason: `it is signed by key ${status.missingKeys[0]}, which is not one the policy trusts`,
      };
    if (status.expired.length > 0)
      return { ok: false, reason: `the signature or its key ${status.expired[0]} has expired` };
    if (status.revoked.length > 0)
      return { ok: false, reason: `the key ${status.revoked[0]} that made it is revoked` };
    if (result.exitCode !== 0 || status.valid.length !== 1) {
      return {
        ok: false,
        reason: `not a valid OpenPGP signed message (gpgv exit ${result.exitCode}: ${tail(stderr)})`,
      };
    }
    return {
      ok: true,
      fingerprint: status.valid[0]!,
      payload: result.stdout,
    };
  } finally {
    await remove(home);
  }
}
