/**
 * Reading the trust configuration: where policy.json and registries.d are found, strict
 * parsing with errors that name the file, line and place, registries.d merging and
 * lookaside lookup, and the policy scope precedence.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PilotError } from '../../../src/core/errors.js';
import { parseDockerReference } from '../../../src/store/docker-reference.js';
import { readTrustConfig } from '../../../src/store/trust/config.js';
import { findRule } from '../../../src/store/trust/evaluate.js';
import { parsePolicy } from '../../../src/store/trust/policy.js';
import { lookasideBase } from '../../../src/store/trust/registries-d.js';
import { policyNamespaces } from '../../../src/store/trust/scopes.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pilot-trust-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function write(path: string, text: string): string {
  const file = join(dir, path);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
  return file;
}

function thrown(run: () => unknown): PilotError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error('expected an error');
}

const ref = (text: string) => {
  const parsed = parseDockerReference(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

const ACCEPT = '{"default": [{"type": "insecureAcceptAnything"}]}';

describe('where the configuration is found', () => {
  const home = () => join(dir, 'home');
  const systemDir = () => join(dir, 'etc');

  it('prefers --signature-policy, then ~/.config/containers/policy.json, then /etc/containers', () => {
    const system = write('etc/policy.json', ACCEPT);
    expect(readTrustConfig({ home: home(), systemDir: systemDir() }).policy.file).toBe(system);
    const user = write('home/.config/containers/policy.json', ACCEPT);
    expect(readTrustConfig({ home: home(), systemDir: systemDir() }).policy.file).toBe(user);
    const named = write('named.json', ACCEPT);
    expect(
      readTrustConfig({ signaturePolicy: named, home: home(), systemDir: systemDir() }).policy.file,
    ).toBe(named);
  });

  it('a missing policy is an error naming the file, never "accept everything"', () => {
    const error = thrown(() => readTrustConfig({ home: home(), systemDir: systemDir() }));
    expect(error.code).toBe('PILOT_POLICY_INVALID');
    expect(error.message).toBe(
      `the trust policy ${join(systemDir(), 'policy.json')} does not exist`,
    );
    const named = thrown(() => readTrustConfig({ signaturePolicy: join(dir, 'nope.json') }));
    expect(named.message).toContain('nope.json does not exist');
    expect(named.hint).toContain('--signature-policy');
  });

  it('reads registries.d from the option, else the user directory if it exists, else /etc', () => {
    write('etc/policy.json', ACCEPT);
    write('etc/registries.d/a.yaml', 'default-docker:\n  lookaside: https://system.example/sigs\n');
    const options = { home: home(), systemDir: systemDir() };
    const base = (config: ReturnType<typeof readTrustConfig>) =>
      lookasideBase(config.registries, ref('h.example/r:1')).url;
    expect(base(readTrustConfig(options))).toBe('https://system.example/sigs');
    write(
      'home/.config/containers/registries.d/b.yaml',
      'default-docker:\n  lookaside: https://user.example/sigs\n',
    );
    expect(base(readTrustConfig(options))).toBe('https://user.example/sigs');
    write('named/c.yaml', 'default-docker:\n  sigstore: file:///srv/sigs\n');
    expect(base(readTrustConfig({ ...options, registriesDir: join(dir, 'named') }))).toBe(
      'file:///srv/sigs',
    );
    const missing = thrown(() => readTrustConfig({ ...options, registriesDir: join(dir, 'none') }));
    expect(missing.message).toContain('registries.d directory');
  });

  it('without any registries.d entry, signatures are read from the built-in directory', () => {
    write('etc/policy.json', ACCEPT);
    const config = readTrustConfig({ home: home(), systemDir: systemDir() });
    const expected =
      process.geteuid?.() === 0
        ? 'file:///var/lib/containers/sigstore'
        : `file://${home()}/.local/share/containers/sigstore`;
    expect(lookasideBase(config.registries, ref('h.example/r:1')).url).toBe(expected);
  });
});

describe('registries.d', () => {
  const read = (files: Record<string, string>) => {
    for (const [name, text] of Object.entries(files)) write(`rd/${name}`, text);
    write('policy.json', ACCEPT);
    return readTrustConfig({
      signaturePolicy: join(dir, 'policy.json'),
      registriesDir: join(dir, 'rd'),
    });
  };

  it('uses the most specific scope that names a lookaside', () => {
    const config = read({
      'a.yaml': [
        'docker:',
        '  reg.example:5000:',
        '    lookaside: https://host.example/sigs',
        '  reg.example:5000/team:',
        '    lookaside: https://team.example/sigs',
        '  reg.example:5000/team/app:1.0:',
        '    lookaside: https://tag.example/sigs',
        '  reg.example:5000/team/quiet:',
        '    use-sigstore-attachments: true',
        '  "*.example.org":',
        '    lookaside: https://wild.example/sigs',
        'default-docker:',
        '  lookaside: https://default.example/sigs',
      ].join('\n'),
      'ignored.yml': 'not: [valid',
    });
    const url = (text: string) => lookasideBase(config.registries, ref(text)).url;
    expect(url('reg.example:5000/team/app:1.0')).toBe('https://tag.example/sigs');
    expect(url('reg.example:5000/team/app:2.0')).toBe('https://team.example/sigs');
    expect(url('reg.example:5000/team/quiet:1')).toBe('https://team.example/sigs');
    expect(url('reg.example:5000/other:1')).toBe('https://host.example/sigs');
    expect(url('reg.example/team/app:1.0')).toBe('https://default.example/sigs');
    expect(url('a.b.example.org/x:1')).toBe('https://wild.example/sigs');
  });

  it.each([
    [{ 'a.yaml': 'docker:\n  h:\n    lookaside: [' }, /a\.yaml:3: not valid YAML/],
    [
      { 'a.yaml': 'docker:\n  h:\n    lookasid: https://x\n' },
      /a\.yaml:3: docker\["h"\]: unknown key "lookasid"/,
    ],
    [{ 'a.yaml': 'dockers: {}\n' }, /a\.yaml:1: unknown key "dockers"/],
    [
      { 'a.yaml': 'docker:\n  h:\n    lookaside: ftp://x/\n' },
      /is not a file:\/\/, http:\/\/ or https:\/\/ URL/,
    ],
    [{ 'a.yaml': 'docker:\n  h:\n    lookaside: 7\n' }, /lookaside must be a string/],
    [
      { 'a.yaml': 'docker:\n  h: {}\n  h: {}\n' },
      /a\.yaml:3: not valid YAML: Map keys must be unique/,
    ],
    [
      {
        'a.yaml': 'docker:\n  h:\n    lookaside: https://a\n',
        'b.yaml': 'docker:\n  h:\n    lookaside: https://b\n',
      },
      /b\.yaml:3: docker\["h"\] is also defined at .*a\.yaml:3/,
    ],
    [
      { 'a.yaml': 'default-docker: {}\n', 'b.yaml': 'default-docker:\n  lookaside: https://b\n' },
      /b\.yaml:1: "default-docker" is also defined at .*a\.yaml:1/,
    ],
    [{ 'a.yaml': '- docker\n' }, /a\.yaml: must be a mapping/],
  ])('refuses a broken directory: %#', (files, message) => {
    const error = thrown(() => read(files));
    expect(error.code).toBe('PILOT_POLICY_INVALID');
    expect(error.message).toMatch(message);
    expect(error.hint).toContain('containers-registries.d(5)');
  });
});

describe('policy.json parsing', () => {
  const parse = (text: string) => parsePolicy('/etc/containers/policy.json', text);
  const signedBy = (extra: string) =>
    `{"default": [{"type": "signedBy", "keyType": "GPGKeys"${extra}}]}`;

  it('reads every requirement and identity rule the containers tools document', () => {
    const policy = parse(
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: {
            'a.example': [{ type: 'insecureAcceptAnything' }],
            'b.example': [
              {
                type: 'signedBy',
                keyType: 'GPGKeys',
                keyPath: '/k.gpg',
                signedIdentity: { type: 'matchExact' },
              },
            ],
            'c.example': [
              {
                type: 'signedBy',
                keyType: 'GPGKeys',
                keyPaths: ['/a', '/b'],
                signedIdentity: { type: 'matchRepository' },
              },
            ],
            'd.example': [
              {
                type: 'signedBy',
                keyType: 'GPGKeys',
                keyData: 'AAAA',
                signedIdentity: { type: 'exactReference', dockerReference: 'x.example/y:1' },
              },
            ],
            'e.example': [
              {
                type: 'signedBy',
                keyType: 'GPGKeys',
                keyData: 'AA==',
                signedIdentity: { type: 'exactRepository', dockerRepository: 'busybox' },
              },
            ],
            'f.example': [
              {
                type: 'signedBy',
                keyType: 'GPGKeys',
                keyPath: '/k',
                signedIdentity: {
                  type: 'remapIdentity',
                  prefix: 'f.example',
                  signedPrefix: 'vendor.example/ns',
                },
              },
            ],
            'g.example': [{ type: 'sigstoreSigned', keyPath: '/cosign.pub' }],
          },
          atomic: { '': [{ type: 'reject' }] },
        },
      }),
    );
    const docker = policy.transports.get('docker')!;
    expect(docker.get('b.example')).toEqual([
      {
        type: 'signedBy',
        keyType: 'GPGKeys',
        keys: { paths: ['/k.gpg'] },
        signedIdentity: { type: 'matchExact' },
      },
    ]);
    expect(docker.get('d.example')?.[0]).toMatchObject({ keys: { data: Buffer.from([0, 0, 0]) } });
    expect(docker.size).toBe(7);
    // signedIdentity defaults to matchRepoDigestOrExact
    expect(parse(signedBy(', "keyPath": "/k"')).default[0]).toMatchObject({
      signedIdentity: { type: 'matchRepoDigestOrExact' },
    });
  });

  it.each([
    ['{"default": [', /policy\.json:1:14: not valid JSON/],
    ['{}', /the "default" policy is missing/],
    ['{"default": []}', /policy\.json:1:13: default: the list of requirements must not be empty/],
    ['{"default": {"type": "reject"}}', /default: must be a list of requirements/],
    [
      '{\n  "default": [\n    {"type": "rejected"}\n  ]\n}',
      /policy\.json:3:14: default\[0\]\.type: unknown requirement type "rejected"/,
    ],
    ['{"default": [{"type": "reject", "why": 1}]}', /default\[0\]\.why: unknown field "why"/],
    [
      '{"default": [{"type": "reject"}], "default": [{"type": "insecureAcceptAnything"}]}',
      /policy\.json:1:35: default: the key is given twice/,
    ],
    [
      '{"default": [{"type": "reject"}], "transports": {"docker": {"h": [{"type": "reject"}], "h": [{"type": "insecureAcceptAnything"}]}}}',
      /transports\.docker\["h"\]: the key is given twice/,
    ],
    ['{"default": [{"type": "reject"}], "transport": {}}', /unknown field "transport"/],
    [signedBy(''), /exactly one of keyPath, keyPaths and keyData must be given, none is/],
    [signedBy(', "keyPath": "/a", "keyData": "AA=="'), /found keyPath and keyData/],
    [signedBy(', "keyData": "not base64!"'), /default\[0\]\.keyData: must be base64/],
    [signedBy(', "keyPaths": []'), /keyPaths: must be a non-empty list/],
    [
      '{"default": [{"type": "signedBy", "keyType": "PGP", "keyPath": "/k"}]}',
      /unknown keyType "PGP"/,
    ],
    ['{"default": [{"type": "signedBy", "keyPath": "/k"}]}', /default\[0\]: "keyType" is missing/],
    [
      signedBy(', "keyPath": "/k", "signedIdentity": {"type": "matchAll"}'),
      /unknown signedIdentity type "matchAll"/,
    ],
    [
      signedBy(
        ', "keyPath": "/k", "signedIdentity": {"type": "exactReference", "dockerReference": "x.example/y"}',
      ),
      /has neither a tag nor a digest/,
    ],
    [
      signedBy(
        ', "keyPath": "/k", "signedIdentity": {"type": "exactRepository", "dockerRepository": "Bad/Name"}',
      ),
      /dockerRepository/,
    ],
    [
      signedBy(
        ', "keyPath": "/k", "signedIdentity": {"type": "remapIdentity", "prefix": "", "signedPrefix": "x.example"}',
      ),
      /prefix: "" is not a host/,
    ],
    [
      signedBy(', "keyPath": "/k", "signedIdentity": {"type": "matchExact", "extra": 1}'),
      /signedIdentity\.extra: unknown field/,
    ],
  ])('refuses %s', (text, message) => {
    const error = thrown(() => parse(text));
    expect(error.code).toBe('PILOT_POLICY_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).toContain('/etc/containers/policy.json');
    expect(error.hint).toBeTruthy();
  });
});

describe('scope precedence', () => {
  const policy = (scopes: string[]) => ({
    policy: parsePolicy(
      'p.json',
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: Object.fromEntries(
            scopes.map((scope) => [scope, [{ type: 'insecureAcceptAnything' }]]),
          ),
        },
      }),
    ),
    registries: {
      dir: undefined,
      defaultDocker: undefined,
      docker: new Map(),
      builtinLookaside: 'file:///x',
    },
    gpgv: 'gpgv',
  });
  const all = [
    'reg.example.com:5000/team/app:1.0',
    'reg.example.com:5000/team/app@sha256:' + 'a'.repeat(64),
    'reg.example.com:5000/team/app',
    'reg.example.com:5000/team',
    'reg.example.com:5000',
    '*.example.com',
    '*.com',
    '',
  ];

  it.each([
    ['reg.example.com:5000/team/app:1.0', 'reg.example.com:5000/team/app:1.0'],
    [
      `reg.example.com:5000/team/app@sha256:${'a'.repeat(64)}`,
      `reg.example.com:5000/team/app@sha256:${'a'.repeat(64)}`,
    ],
    ['reg.example.com:5000/team/app:2.0', 'reg.example.com:5000/team/app'],
    ['reg.example.com:5000/team/sub/other:1', 'reg.example.com:5000/team'],
    ['reg.example.com:5000/solo:1', 'reg.example.com:5000'],
    ['reg.example.com/team/app:1.0', '*.example.com'],
    ['other.com/x:1', '*.com'],
    ['localhost:5000/x:1', ''],
  ])('%s uses scope "%s"', (image, scope) => {
    expect(findRule(policy(all), ref(image)).name).toBe(
      `transports.docker[${JSON.stringify(scope)}]`,
    );
  });

  it('falls back to the global default without a transport default', () => {
    expect(findRule(policy(['x.example']), ref('localhost:5000/x:1')).name).toBe('default');
  });

  it('normalises short names as the containers tools do', () => {
    expect(ref('busybox')).toEqual({
      domain: 'docker.io',
      path: 'library/busybox',
      tag: undefined,
      digest: undefined,
    });
    expect(ref('index.docker.io/team/app:1')).toMatchObject({
      domain: 'docker.io',
      path: 'team/app',
      tag: '1',
    });
    expect(policyNamespaces(ref('docker.io/library/busybox:1'))).toEqual([
      'docker.io/library/busybox',
      'docker.io/library',
      'docker.io',
      '*.io',
    ]);
    expect(parseDockerReference('Reg.Example/Team/App')).toMatch(/must be lowercase/);
    expect(parseDockerReference('host/app:bad tag')).toMatch(/tag "bad tag" is not valid/);
  });
});
