/**
 * Bearer tokens (the distribution token spec): GET REALM?service=S&scope=repository:R:pull,
 * with the login as Basic auth when there is one (anonymous otherwise); the answer's
 * `token` or `access_token` is sent as `Authorization: Bearer …`.
 */
import { PilotError } from '../../core/errors.js';
import { escapeExcerpt } from '../../core/excerpt.js';
import type { Credentials } from './auth-files.js';
import type { Challenge } from './challenge.js';
import { ConnectError, type HttpResponse, readBody, type Transport } from './transport.js';

/** A token answer bigger than this is no token answer. */
const MAX_TOKEN_ANSWER = 1024 * 1024;

export function basicAuthorization(login: Credentials): string {
  return `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
}

export async function requestToken(
  transport: Transport,
  registry: string,
  challenge: Challenge,
  scope: string,
  login: Credentials | undefined,
): Promise<{ refused: true } | { refused: false; token: string }> {
  let realm: URL;
  try {
    realm = new URL(challenge.params.realm ?? '');
  } catch {
    throw new PilotError(
      'PILOT_REGISTRY_AUTH',
      `${registry} asks for a token from ${JSON.stringify(escapeExcerpt(challenge.params.realm ?? ''))}, which is no URL`,
      { hint: 'the registry is misconfigured; tell its operator' },
    );
  }
  if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
  realm.searchParams.set('scope', scope);
  let response: HttpResponse;
  try {
    response = await transport.request(realm, {
      authorization: login ? basicAuthorization(login) : undefined,
    });
  } catch (error) {
    if (error instanceof ConnectError) {
      throw new PilotError(
        'PILOT_REGISTRY_UNREACHABLE',
        `cannot reach the token service of ${registry} at ${realm.origin}: ${(error.original as Error).message}`,
        {
          hint: 'check that the token service runs; the registry names it in its WWW-Authenticate',
        },
      );
    }
    throw error;
  }
  if (response.status === 401 || response.status === 403) {
    response.body.resume();
    return { refused: true };
  }
  const body = await readBody(response, MAX_TOKEN_ANSWER, 'the token answer');
  if (response.status !== 200) {
    throw new PilotError(
      'PILOT_REGISTRY_AUTH',
      `the token service ${realm.origin} answered ${response.status}`,
      { hint: 'try again; if it persists, tell the registry operator' },
    );
  }
  let parsed: { token?: unknown; access_token?: unknown } | null;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    parsed = null;
  }
  const token = parsed?.token ?? parsed?.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new PilotError('PILOT_REGISTRY_AUTH', `the token service ${realm.origin} gave no token`, {
      hint: 'the registry is misconfigured; tell its operator',
    });
  }
  return { refused: false, token };
}
