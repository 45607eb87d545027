/**
 * `WWW-Authenticate` challenges of a registry (RFC 7235; the distribution token spec):
 * `Bearer realm="https://auth.example.com/token",service="registry",scope="repository:a:pull"`
 * or `Basic realm="Registry Realm"`. Several challenges may share one header.
 */
export interface Challenge {
  /** Lower case: `basic`, `bearer`. */
  scheme: string;
  /** Parameter names lower case. */
  params: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+/;

/** Every challenge in `header` (malformed trailing parts are ignored). */
export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  const text = Array.isArray(header) ? header.join(', ') : header;
  const challenges: Challenge[] = [];
  let rest = text;
  const skip = (pattern: RegExp) => {
    rest = rest.replace(pattern, '');
  };
  while (rest.length > 0) {
    skip(/^[\s,]+/);
    const scheme = TOKEN.exec(rest);
    if (!scheme) break;
    rest = rest.slice(scheme[0].length);
    const challenge: Challenge = { scheme: scheme[0].toLowerCase(), params: {} };
    challenges.push(challenge);
    for (;;) {
      const save = rest;
      skip(/^[\s,]*/);
      const name = TOKEN.exec(rest);
      if (!name) break;
      const afterName = rest.slice(name[0].length).replace(/^\s*/, '');
      if (!afterName.startsWith('=')) {
        rest = save; // the next challenge's scheme
        break;
      }
      rest = afterName.slice(1).replace(/^\s*/, '');
      let value: string;
      if (rest.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < rest.length && rest[i] !== '"') {
          if (rest[i] === '\\' && i + 1 < rest.length) i++;
          value += rest[i];
          i++;
        }
        rest = rest.slice(i + 1);
      } else {
        const token = /^[^\s,]*/.exec(rest)![0];
        value = token;
        rest = rest.slice(token.length);
      }
      challenge.params[name[0].toLowerCase()] = value;
    }
  }
  return challenges;
}

/** The challenge pilot answers: Bearer if offered, else Basic; undefined for neither. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return (
    challenges.find((c) => c.scheme === 'bearer' && c.params.realm) ??
    challenges.find((c) => c.scheme === 'basic')
  );
}
