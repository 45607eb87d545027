/**
 * Registry credentials as the containers tools find them (containers-auth.json(5)):
 * `--creds USER:PASS`, else `--authfile FILE`, else the first auth file that has an entry
 * for the registry, in the containers tools' order (../containers-config.ts). An entry is
 * `auths["host[:port][/path]"].auth`, base64 of `user:password`; the most specific key
 * that prefixes the repository wins, and docker's `https://index.docker.io/v1/` names
 * docker.io. Credential helpers (`credHelpers`, `credsStore`) are not run.
 */
import { readFileSync } from 'node:fs';
import { errnoOf, PilotError } from '../../core/errors.js';
import { quoteExcerpt } from '../../core/excerpt.js';
import { authFileSearch, containersDirs } from '../containers-config.js';
import { DOCKER_HUB } from '../docker-reference.js';

export interface Credentials {
  username: string;
  password: string;
  /** Where they came from, for messages: `--creds`, or the file and its key. */
  origin: string;
}

/** An auth file bigger than this is no auth file. */
const MAX_AUTH_FILE = 1024 * 1024;

export interface AuthLookup {
  /** `--creds USER:PASS`. */
  creds?: string | undefined;
  /** `--authfile FILE`: the only file read when given. */
  authFile?: string | undefined;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

/** `USER:PASS` → credentials; the password may hold ":" itself. */
export function parseCreds(creds: string): Credentials {
  const colon = creds.indexOf(':');
  if (colon <= 0) {
    throw new PilotError(
      'PILOT_USAGE',
      colon === 0 ? '--creds has no user name before ":"' : '--creds has no password',
      {
        hint: 'give --creds USER:PASSWORD, or put the login in an auth file (--authfile FILE, "podman login" writes one)',
      },
    );
  }
  return { username: creds.slice(0, colon), password: creds.slice(colon + 1), origin: '--creds' };
}

/** `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/` → `host:5000`. */
export function normalizeAuthKey(key: string): string {
  let out = key.replace(/^https?:\/\//, '');
  if (/^[a-z]+:\/\//.test(key) || key.startsWith('http')) out = out.replace(/\/.*$/, '');
  if (out === 'index.docker.io' || out === 'registry-1.docker.io') return DOCKER_HUB;
  return out.replace(/\/+$/, '');
}

/** The keys that may hold a repository's login, most specific first. */
export function authKeysFor(registry: string, repository: string): string[] {
  const parts = repository.split('/');
  const keys: string[] = [];
  for (let n = parts.length; n > 0; n--) keys.push(`${registry}/${parts.slice(0, n).join('/')}`);
  keys.push(registry);
  return keys;
}

interface AuthEntry {
  auth?: unknown;
}

function readAuthFile(file: string, required: boolean): Record<string, AuthEntry> | undefined {
  let text: string;
  try {
    const data = readFileSync(file);
    if (data.length > MAX_AUTH_FILE) {
      throw new PilotError('PILOT_USAGE', `auth file ${file} has ${data.length} bytes`, {
        hint: 'an auth file is a small JSON file ({"auths": {"HOST": {"auth": "BASE64"}}})',
      });
    }
    text = data.toString('utf8');
  } catch (error) {
    const code = errnoOf(error);
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return undefined;
    if (error instanceof PilotError) throw error;
    throw new PilotError(
      'PILOT_USAGE',
      `cannot read auth file ${file}: ${(error as Error).message}`,
      {
        hint: 'check the path given to --authfile or $REGISTRY_AUTH_FILE',
        cause: error,
      },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PilotError('PILOT_USAGE', `auth file ${file} is not valid JSON`, {
      hint: 'it should read {"auths": {"HOST": {"auth": "BASE64 OF USER:PASSWORD"}}}; "podman login" writes one',
    });
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (auths === undefined) return {};
  if (auths === null || typeof auths !== 'object' || Array.isArray(auths)) {
    throw new PilotError('PILOT_USAGE', `auth file ${file}: "auths" is not a JSON object`, {
      hint: 'it should read {"auths": {"HOST": {"auth": "BASE64 OF USER:PASSWORD"}}}',
    });
  }
  const entries: Record<string, AuthEntry> = {};
  for (const [key, value] of Object.entries(auths as Record<string, AuthEntry>)) {
    entries[normalizeAuthKey(key)] = value;
  }
  return entries;
}

function decodeEntry(file: string, key: string, entry: AuthEntry): Credentials | undefined {
  if (
    entry === null ||
    typeof entry !== 'object' ||
    entry.auth === undefined ||
    entry.auth === ''
  ) {
    return undefined; // an entry without "auth": a credential helper's, which pilot does not run
  }
  const decoded =
    typeof entry.auth === 'string' ? Buffer.from(entry.auth, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0) {
    throw new PilotError(
      'PILOT_USAGE',
      `auth file ${file}: the "auth" of ${quoteExcerpt(key)} is not base64 of USER:PASSWORD`,
      { hint: `log in again ("podman login ${key}") or fix the entry` },
    );
  }
  return {
    username: decoded.slice(0, colon),
    password: decoded.slice(colon + 1),
    origin: `${file} (${key})`,
  };
}

/** The login for `registry/repository`, or undefined (then the pull is anonymous). */
export function findCredentials(
  registry: string,
  repository: string,
  lookup: AuthLookup = {},
): Credentials | undefined {
  if (lookup.creds !== undefined) return parseCreds(lookup.creds);
  const files =
    lookup.authFile !== undefined
      ? [lookup.authFile]
      : authFileSearch(
          containersDirs({
            ...(lookup.env !== undefined ? { env: lookup.env } : {}),
            ...(lookup.home !== undefined ? { home: lookup.home } : {}),
          }),
        );
  const keys = authKeysFor(registry, repository);
  for (const file of files) {
    const entries = readAuthFile(file, file === lookup.authFile);
    if (!entries) continue;
    for (const key of keys) {
      const entry = entries[key];
      if (entry === undefined) continue;
      const credentials = decodeEntry(file, key, entry);
      if (credentials) return credentials;
    }
  }
  return undefined;
}
