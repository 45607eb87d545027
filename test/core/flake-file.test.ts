import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PilotError } from '../../src/core/errors.js';
import {
  assertAppName,
  type Flake,
  type FlakeSource,
  flakeFromSources,
  loadFlake,
  mergeFlakeDocuments,
  parseFlakeSource,
  readFlakeSources,
  serializeFlake,
  validateFlake,
} from '../../src/core/flake-file.js';
import { parsePodmanOptions } from '../../src/core/podman-options.js';

const fixtures = fileURLToPath(new URL('../fixtures/flakes', import.meta.url));

function src(text: string, file = 'app.yaml'): FlakeSource {
  return { file, text };
}

/** Runs `fn` and returns the PilotError it throws (fails the test if it does not). */
function thrown(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error('expected a PilotError');
}

const defaults: Flake = {
  include: { tar: [], path: [] },
  container: {
    name: 'busybox',
    layers: [],
    check_host_dependencies: false,
    digests: {},
    host_packages: [],
    host_files: 'skip_missing',
    runtime: { resume: false, attach: false, podman: [] },
  },
};

describe('upstream forms', () => {
  it('reads the EB 2.2.19 form without warnings', () => {
    const { flake, warnings, files } = loadFlake(fixtures, 'joe');
    expect(warnings).toEqual([]);
    expect(files).toEqual([join(fixtures, 'joe.yaml')]);
    expect(flake).toEqual({
      include: { tar: ['/srv/joe-config.tar'], path: [] },
      container: {
        name: 'joe',
        target_app_path: '/usr/bin/joe',
        host_app_path: '/usr/bin/joe',
        base_container: 'basesystem',
        layers: ['joe-extras'],
        check_host_dependencies: false,
        digests: {},
        host_packages: [],
        host_files: 'skip_missing',
        runtime: {
          runas: 'root',
          resume: true,
          attach: false,
          podman: ['--storage-opt size=10G', '--rm', '-ti'],
        },
      },
    });
  });

  it('reads the OS 3.1.44 form (main file only) without warnings', () => {
    const text = readFileSync(join(fixtures, 'aws.yaml'), 'utf8');
    const { flake, warnings } = flakeFromSources([src(text, 'aws.yaml')]);
    expect(warnings).toEqual([]);
    expect(flake.include).toEqual({ tar: ['/srv/aws-config.tar.gz'], path: ['/etc/aws'] });
    expect(flake.container.check_host_dependencies).toBe(true);
    expect(flake.container.layers).toEqual(['python-extras', 'aws-plugins']);
    expect(flake.container.runtime).toEqual({
      runas: 'root',
      resume: false,
      attach: false,
      podman: ['--rm', '-e AWS_PROFILE=dev', '--volume /data:/data'],
    });
  });

  it('treats null values and empty lists as defaults', () => {
    const { flake, warnings } = loadFlake(fixtures, 'nulls');
    expect(warnings).toEqual([]);
    expect(flake).toEqual({ ...defaults, container: { ...defaults.container, name: 'nulls' } });
  });
});

describe('defaults', () => {
  it.each([
    ['only a name', 'container:\n  name: busybox\n', defaults],
    [
      'runas given as a uid',
      'container:\n  name: busybox\n  runtime:\n    runas: 0\n',
      {
        ...defaults,
        container: {
          ...defaults.container,
          runtime: { ...defaults.container.runtime, runas: '0' },
        },
      },
    ],
    [
      'include without path',
      'include:\n  tar: [/a.tar]\ncontainer:\n  name: busybox\n',
      { ...defaults, include: { tar: ['/a.tar'], path: [] } },
    ],
    [
      'pilot extensions',
      `container:\n  name: busybox\n  digests:\n    busybox: sha256:${'a'.repeat(64)}\n  host_packages: [jq]\n`,
      {
        ...defaults,
        container: {
          ...defaults.container,
          digests: { busybox: `sha256:${'a'.repeat(64)}` },
          host_packages: ['jq'],
        },
      },
    ],
  ])('%s', (_name, text, expected) => {
    const { flake, warnings } = flakeFromSources([src(text)]);
    expect(warnings).toEqual([]);
    expect(flake).toEqual(expected);
  });

  it('refuses an image name the store could never hold, at its line', () => {
    const long = `pilot/${'x'.repeat(300)}`;
    expect(() =>
      flakeFromSources([src(`container:\n  name: busybox\n  layers:\n    - ok\n    - ${long}\n`)]),
    ).toThrow(/:5: container\.layers\.1: image name "pilot\/x+…" is too long/);
  });

  it('omits unset optional keys instead of writing undefined', () => {
    const { flake } = flakeFromSources([src('container:\n  name: busybox\n')]);
    expect(Object.keys(flake.container)).not.toContain('host_app_path');
    expect(Object.keys(flake.container)).not.toContain('base_container');
    expect(Object.keys(flake.container.runtime)).not.toContain('runas');
  });
});

describe('drop-ins', () => {
  it('deep merges in name order: resume changes, layers are replaced, the rest stays', () => {
    const { flake, warnings, files } = loadFlake(fixtures, 'aws');
    expect(warnings).toEqual([]);
    expect(files).toEqual([
      join(fixtures, 'aws.yaml'),
      join(fixtures, 'aws.d/10-resume.yaml'),
      join(fixtures, 'aws.d/20-layers.yml'),
    ]);
    expect(flake.container.name).toBe('aws-cli');
    expect(flake.container.runtime).toEqual({
      runas: 'root',
      resume: true,
      attach: false,
      podman: ['--rm', '-e AWS_PROFILE=dev', '--volume /data:/data'],
    });
    expect(flake.container.layers).toEqual(['aws-v2']);
    expect(flake.container.base_container).toBe('basepython');
    expect(flake.include).toEqual({ tar: ['/srv/aws-config.tar.gz'], path: ['/etc/aws'] });
  });

  it.each([
    ['a later scalar replaces', 'container:\n  name: b\n', (f: Flake) => f.container.name, 'b'],
    [
      'a later sequence replaces, not appends',
      'container:\n  runtime:\n    podman: [--rm]\n',
      (f: Flake) => f.container.runtime.podman,
      ['--rm'],
    ],
    [
      'null resets to the default',
      'container:\n  layers: ~\n',
      (f: Flake) => f.container.layers,
      [],
    ],
    [
      'mappings merge key by key (digests)',
      `container:\n  digests:\n    y: sha256:${'b'.repeat(64)}\n`,
      (f: Flake) => f.container.digests,
      { x: `sha256:${'a'.repeat(64)}`, y: `sha256:${'b'.repeat(64)}` },
    ],
    ['an empty drop-in changes nothing', '# nothing\n', (f: Flake) => f.container.layers, ['l1']],
  ])('%s', (_name, dropIn, pick, expected) => {
    const main = `container:\n  name: a\n  layers: [l1]\n  runtime:\n    podman: [-ti, --rm]\n  digests:\n    x: sha256:${'a'.repeat(64)}\n`;
    const { flake } = flakeFromSources([src(main, 'a.yaml'), src(dropIn, 'a.d/1.yaml')]);
    expect(pick(flake)).toEqual(expected);
  });

  it('keeps the provenance of each final value', () => {
    const merged = mergeFlakeDocuments([
      parseFlakeSource(src('container:\n  name: a\n  layers:\n    - l1\n    - l2\n', 'a.yaml')),
      parseFlakeSource(src('\ncontainer:\n  layers:\n    - l3\n', 'a.d/1.yaml')),
    ]);
    expect(merged.files).toEqual(['a.yaml', 'a.d/1.yaml']);
    expect(merged.provenance.get('container.name')).toMatchObject({ file: 'a.yaml', line: 2 });
    expect(merged.provenance.get('container.layers.0')).toMatchObject({
      file: 'a.d/1.yaml',
      line: 4,
    });
    // the replaced list's second item is gone with it
    expect(merged.provenance.has('container.layers.1')).toBe(false);
  });

  it('does not modify its inputs', () => {
    const first = parseFlakeSource(src('container:\n  name: a\n  runtime:\n    resume: false\n'));
    const second = parseFlakeSource(src('container:\n  runtime:\n    resume: true\n', 'b.yaml'));
    mergeFlakeDocuments([first, second]);
    expect(first.value).toEqual({ container: { name: 'a', runtime: { resume: false } } });
  });

  it('names the drop-in when the drop-in is wrong', () => {
    const error = thrown(() =>
      flakeFromSources([
        src('container:\n  name: a\n', 'a.yaml'),
        src('container:\n  runtime:\n    resume: yes\n', 'a.d/10.yaml'),
      ]),
    );
    expect(error.message).toMatch(
      /^a\.d\/10\.yaml:3: container\.runtime\.resume: expected true or false/,
    );
  });
});

describe('a key repeated in one file', () => {
  it.each([
    ['plain', 'container:\n  name: a\n  name: b\n'],
    ['quoted', 'container:\n  name: a\n  "name": b\n'],
  ])('%s: the last one wins, with a warning naming both lines', (_name, text) => {
    const { flake, warnings } = flakeFromSources([src(text)]);
    expect(flake.container.name).toBe('b');
    expect(warnings).toEqual([
      {
        file: 'app.yaml',
        line: 3,
        message:
          '"name" is repeated in container (first on line 2): the last one wins; remove one of the two',
      },
    ]);
  });

  it('keeps the position of the last one', () => {
    const { flake } = flakeFromSources([
      src('container:\n  layers: [x]\n  name: a\n  layers: [y, z]\n'),
    ]);
    expect(flake.container.layers).toEqual(['y', 'z']);
  });
});

describe('errors', () => {
  it.each([
    ['broken YAML', 'container:\n  name: [a\n', /^app\.yaml:\d+: not valid YAML: /],
    ['tab indentation', 'container:\n\tname: a\n', /^app\.yaml:2: not valid YAML: /],
    [
      'two documents',
      'container:\n  name: a\n---\nx: 1\n',
      /^app\.yaml:3: not valid YAML: .*one document/,
    ],
    ['a top-level list', '- container\n', /^app\.yaml:1: the top level must be a mapping/],
    ['a top-level scalar', 'hello\n', /^app\.yaml:1: the top level must be a mapping/],
    ['an empty file', '', /^app\.yaml:1: container\.name is required/],
    [
      'no container.name',
      'container:\n  layers: []\n',
      /^app\.yaml:1: container\.name is required/,
    ],
    ['container: null', 'include: {}\ncontainer: ~\n', /^app\.yaml:2: container\.name is required/],
    ['name empty', 'container:\n  name: ""\n', /^app\.yaml:2: container\.name: must not be empty/],
    [
      'name a number',
      'container:\n  name: 5\n',
      /^app\.yaml:2: container\.name: expected a string, got the number 5/,
    ],
    [
      'container a list',
      'container:\n  - name: a\n',
      /^app\.yaml:2: container: expected a mapping/,
    ],
    [
      'layers: 5',
      'container:\n  name: a\n  layers: 5\n',
      /^app\.yaml:3: container\.layers: expected a list of strings, got the number 5/,
    ],
    [
      'layers a string',
      'container:\n  name: a\n  layers: l1\n',
      /^app\.yaml:3: container\.layers: expected a list/,
    ],
    [
      'a list item of the wrong type',
      'container:\n  name: a\n  layers:\n    - ok\n    - [x]\n',
      /^app\.yaml:5: container\.layers\.1: expected a string, got a list/,
    ],
    [
      'resume: "yes"',
      'container:\n  name: a\n  runtime:\n    resume: "yes"\n',
      /^app\.yaml:4: container\.runtime\.resume: expected true or false, got the string "yes"/,
    ],
    [
      'attach: 1',
      'container:\n  name: a\n  runtime:\n    attach: 1\n',
      /^app\.yaml:4: container\.runtime\.attach: expected true or false/,
    ],
    [
      'podman a string',
      'container:\n  name: a\n  runtime:\n    podman: --rm\n',
      /^app\.yaml:4: container\.runtime\.podman: expected a list/,
    ],
    [
      'podman with a broken quote',
      "container:\n  name: a\n  runtime:\n    podman:\n      - -e 'A=b\n",
      /^app\.yaml:5: podman option "-e 'A=b": unterminated ' quote$/,
    ],
    [
      'runtime a string',
      'container:\n  name: a\n  runtime: fast\n',
      /^app\.yaml:3: container\.runtime: expected a mapping/,
    ],
    [
      'runas a boolean',
      'container:\n  name: a\n  runtime:\n    runas: true\n',
      /^app\.yaml:4: container\.runtime\.runas: expected a string/,
    ],
    [
      'target_app_path relative',
      'container:\n  name: a\n  target_app_path: bin/x\n',
      /^app\.yaml:3: container\.target_app_path: expected an absolute path/,
    ],
    [
      'host_app_path relative',
      'container:\n  name: a\n  host_app_path: x\n',
      /^app\.yaml:3: container\.host_app_path: expected an absolute path/,
    ],
    [
      'include.path relative',
      'container:\n  name: a\ninclude:\n  path:\n    - etc/x\n',
      /^app\.yaml:5: include\.path\.0: expected an absolute path/,
    ],
    [
      'include a list',
      'include: [/a.tar]\ncontainer:\n  name: a\n',
      /^app\.yaml:1: include: expected a mapping/,
    ],
    [
      'check_host_dependencies a string',
      'container:\n  name: a\n  check_host_dependencies: "false"\n',
      /^app\.yaml:3: container\.check_host_dependencies: expected true or false/,
    ],
    [
      'a bad digest',
      'container:\n  name: a\n  digests:\n    a: md5:1\n',
      /^app\.yaml:4: container\.digests\.a: expected a digest/,
    ],
    [
      'digests a list',
      'container:\n  name: a\n  digests: [x]\n',
      /^app\.yaml:3: container\.digests: expected a mapping/,
    ],
    [
      'a complex key',
      'container:\n  name: a\n  ? [x]\n  : 1\n',
      /^app\.yaml:3: container: keys must be plain words/,
    ],
    [
      'a self-referencing alias',
      'x: &a [*a]\ncontainer:\n  name: a\n',
      /nested more than 32 levels/,
    ],
    [
      'an alias fan-out',
      'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
      /^app\.yaml:\d+: more than 10000 values/,
    ],
  ])('%s', (_name, text, pattern) => {
    const error = thrown(() => flakeFromSources([src(text)]));
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.message).toMatch(pattern);
  });

  it('quotes short escaped excerpts of values and keys, never a whole value', () => {
    const word = thrown(() => flakeFromSources([src(`\u202e${'x'.repeat(5000)}`)]));
    expect(word.message).toMatch(
      /^app\.yaml:1: the top level .*, not the string "\\u202ex{60,80}…"$/,
    );
    const path = thrown(() =>
      flakeFromSources([src(`container:\n  name: a\n  target_app_path: ${'y'.repeat(5000)}\n`)]),
    );
    expect(path.message.length).toBeLessThan(200);
    const quote = thrown(() =>
      flakeFromSources([
        src(`container:\n  name: a\n  runtime:\n    podman: ["'${'z'.repeat(5000)}"]\n`),
      ]),
    );
    expect(quote.message).toMatch(
      /^app\.yaml:4: podman option "'z{60,80}…": unterminated ' quote$/,
    );
    const { warnings } = flakeFromSources([
      src(`container:\n  name: a\n  "\\e[2J${'k'.repeat(900)}": 1\n`),
    ]);
    expect(warnings[0]!.message).toMatch(
      /^unknown key "container\.\\x1b\[2Jk{60,80}…" is ignored$/,
    );
  });

  it('quotes no more than an excerpt of a long podman value, YAML tag or error token', () => {
    const long = 'v'.repeat(100_000);
    for (const option of [
      `--network ${long}`,
      `--volume ${long}:/x`,
      `--tmpfs /t:size=${long}`,
      `--tmpfs /t:mode=${long}`,
      `--tmpfs /t:${long}`,
      `--cap-add ${long}`,
      `--security-opt ${long}`,
      `--mount type=bind,source=/a,target=/b,${long}=1`,
      `--mount type=bind,source=/a,target=/b,bind-propagation=${long}`,
      `--mount type=${long},target=/b`,
      `-v /a:/b:${long}`,
    ]) {
      const error = thrown(() =>
        flakeFromSources([
          src(`container:\n  name: a\n  runtime:\n    podman: [${JSON.stringify(option)}]\n`),
        ]),
      );
      expect(error.message.length, option.slice(0, 30)).toBeLessThan(400);
      expect(error.message).toContain('…');
    }
    const tag = thrown(() => flakeFromSources([src(`a: !${'t'.repeat(100_000)} x\n`)]));
    expect(tag.message.length).toBeLessThan(400);
  });

  it('says what is too deep or too big, and blames aliases only where there are some', () => {
    const flat = thrown(() =>
      flakeFromSources([src(Array.from({ length: 12_000 }, (_, i) => `k${i}: 1`).join('\n'))]),
    );
    expect(flat.message).toBe('app.yaml:10000: more than 10000 values; a flake has a few dozen');
    expect(flat.hint).toBe('check that this is the flake file meant');
    const fanOut = thrown(() =>
      flakeFromSources([
        src(
          'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n',
        ),
      ]),
    );
    expect(fanOut.message).toMatch(/values \(each use of an alias counts its values again\);/);
    const deep = thrown(() => flakeFromSources([src(`${'- '.repeat(50)}x\n`)]));
    expect(deep.message).toMatch(
      /^app\.yaml:1: 0\.0\.0.*: nested more than 32 levels deep; a flake nests a handful \(container\.runtime\.podman is the deepest\)$/,
    );
    expect(deep.hint).toBe('fix the indentation and brackets of the flake file');
    const loop = thrown(() => flakeFromSources([src('x: &a [*a]\ncontainer:\n  name: a\n')]));
    expect(loop.message).toMatch(/nested more than 32 levels deep through aliases \(\*NAME\)/);
    expect(loop.hint).toMatch(/an alias inside the collection it names/);
  });

  it('shows the first 20 unknown keys and counts the rest', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `  extra${i}: 1`).join('\n');
    const { warnings } = flakeFromSources([src(`container:\n  name: a\n${keys}\n`)]);
    expect(warnings).toHaveLength(21);
    expect(warnings[20]).toEqual({
      file: 'app.yaml',
      line: 23,
      message: '480 more warnings like these',
    });
  });

  it('reads many keys in linear time (a repeated key is found by lookup)', () => {
    const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: 1`).join('\n');
    const start = performance.now();
    expect(() => flakeFromSources([src(keys)])).toThrow(/too many keys and values/);
    // Keys without values: two tokens each, so the value limit is the one met.
    const bare = Array.from({ length: 12_000 }, (_, i) => `k${i}:`).join('\n');
    expect(() => flakeFromSources([src(bare)])).toThrow(/more than 10000 values/);
    expect(performance.now() - start).toBeLessThan(2000);
  });

  it('gives a hint for a list written as a string', () => {
    const error = thrown(() => flakeFromSources([src('container:\n  name: a\n  layers: l1\n')]));
    expect(error.hint).toContain('layers: ["l1"]');
  });

  it('reports broken YAML in a drop-in with the drop-in path', () => {
    const error = thrown(() =>
      flakeFromSources([src('container:\n  name: a\n'), src('a: [\n', 'x.d/1.yaml')]),
    );
    expect(error.message).toMatch(/^x\.d\/1\.yaml:\d+: not valid YAML/);
  });
});

describe('runtime.podman', () => {
  const main = (podman: string, runtime = '') =>
    `container:\n  name: a\n  runtime:\n${runtime}    podman:\n${podman}`;

  it('returns file:line of every item, block and flow style', () => {
    expect(
      flakeFromSources([src(main('      - --rm\n\n      - -e A=1\n'), 'a.yaml')]).podmanAt,
    ).toEqual(['a.yaml:5', 'a.yaml:7']);
    expect(
      flakeFromSources([src('container:\n  name: a\n  runtime:\n    podman: [--rm, -ti]\n')])
        .podmanAt,
    ).toEqual(['app.yaml:4', 'app.yaml:4']);
    expect(flakeFromSources([src('container:\n  name: a\n')]).podmanAt).toEqual([]);
  });

  it('returns the lines of the drop-in whose list replaced the main one', () => {
    const { flake, podmanAt } = flakeFromSources([
      src(main('      - --rm\n'), 'a.yaml'),
      src('container:\n  runtime:\n    podman:\n      - -ti\n      - --read-only\n', 'a.d/1.yaml'),
    ]);
    expect(flake.container.runtime.podman).toEqual(['-ti', '--read-only']);
    expect(podmanAt).toEqual(['a.d/1.yaml:4', 'a.d/1.yaml:5']);
  });

  it('refuses an unsupported option, naming the file and line of its item', () => {
    const error = thrown(() =>
      flakeFromSources([
        src(main('      - --rm\n      - -e A=1\n      - --privileged\n      - -ti\n'), 'a.yaml'),
      ]),
    );
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.message).toBe(
      'a.yaml:7: podman option "--privileged": is not supported: it would give the app more than its caller has',
    );
    expect(error.hint).toMatch(/^pilot supports: -e\/--env/);
  });

  it('names the item that holds the option when its value is the next item', () => {
    const error = thrown(() =>
      flakeFromSources([src(main('      - --rm\n      - --pid\n      - host\n'), 'a.yaml')]),
    );
    expect(error.message).toMatch(/^a\.yaml:6: podman option "--pid host": is not supported/);
  });

  it('refuses an unsupported option in a drop-in, naming the drop-in', () => {
    const error = thrown(() =>
      flakeFromSources([
        src(main('      - --rm\n'), 'a.yaml'),
        src(
          'container:\n  runtime:\n    podman:\n      - -e A=1\n      - --device /dev/fuse\n',
          'a.d/10-dev.yaml',
        ),
      ]),
    );
    expect(error.message).toBe(
      'a.d/10-dev.yaml:5: podman option "--device /dev/fuse": is not supported: it would give the app more than its caller has',
    );
  });

  it('refuses a network pilot cannot give, with its own hint', () => {
    const error = thrown(() => flakeFromSources([src(main('      - --network bridge\n'))]));
    expect(error.message).toBe(
      'app.yaml:5: podman option "--network bridge": network "bridge" is not supported',
    );
    expect(error.hint).toBe('use --network none (only loopback) or host (the default)');
  });

  it("reads flake-ctl's escaped options and keeps the items as written", () => {
    const { flake } = flakeFromSources([
      src(main('      - \\--net host\n      - -v %HOME/.aws:%HOME/.aws:ro\n')),
    ]);
    expect(flake.container.runtime.podman).toEqual(['\\--net host', '-v %HOME/.aws:%HOME/.aws:ro']);
  });

  it.each([
    ['resume', '    resume: true\n'],
    ['attach', '    attach: true\n'],
  ])('accepts --storage-opt size together with %s (flake-pilot writes it there)', (_name, runtime) => {
    const { flake } = flakeFromSources([
      src(main('      - --rm\n      - --storage-opt size=10G\n', runtime)),
    ]);
    expect(flake.container.runtime.podman).toEqual(['--rm', '--storage-opt size=10G']);
  });

  it('shows --storage-opt size of a kept instance as a no-op: its layer is on disk', () => {
    const kept = parsePodmanOptions(['--storage-opt size=10G'], { kept: true });
    expect(kept.storageSize).toBeUndefined();
    expect(kept.noops).toEqual([
      {
        option: '--storage-opt size=10G',
        reason:
          'a resume or attach instance keeps its writable layer on disk, where pilot sets no size',
      },
    ]);
    expect(parsePodmanOptions(['--storage-opt size=10G']).storageSize).toBe(10 * 1024 ** 3);
  });

  it('accepts --storage-opt size for one-shot calls, and resume without it', () => {
    expect(
      flakeFromSources([src(main('      - --storage-opt size=10G\n'))]).flake.container.runtime
        .podman,
    ).toEqual(['--storage-opt size=10G']);
    expect(
      flakeFromSources([src(main('      - --rm\n', '    resume: true\n'))]).flake.container.runtime
        .resume,
    ).toBe(true);
  });
});

describe('unknown keys', () => {
  it('warns with file and line and still returns the flake', () => {
    const { flake, warnings } = flakeFromSources([
      src('container:\n  name: a\n  runtime:\n    resum: true\nextra: 1\n', 'a.yaml'),
      src('include:\n  tars: []\n', 'a.d/1.yaml'),
    ]);
    expect(flake.container.runtime.resume).toBe(false);
    expect(warnings).toEqual([
      {
        file: 'a.yaml',
        line: 4,
        message:
          'unknown key "container.runtime.resum" is ignored (did you mean "container.runtime.resume"?)',
      },
      { file: 'a.yaml', line: 5, message: 'unknown key "extra" is ignored' },
      {
        file: 'a.d/1.yaml',
        line: 2,
        message: 'unknown key "include.tars" is ignored (did you mean "include.tar"?)',
      },
    ]);
  });

  it('allows any ref under digests', () => {
    const digest = `sha256:${'c'.repeat(64)}`;
    const { flake, warnings } = flakeFromSources([
      src(
        `container:\n  name: a\n  digests:\n    registry.example.com/x/y:1.0: ${digest}\n    __proto__: ${digest}\n`,
      ),
    ]);
    expect(warnings).toEqual([]);
    expect(flake.container.digests['registry.example.com/x/y:1.0']).toBe(digest);
    expect(Object.hasOwn(flake.container.digests, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(flake.container.digests)).toBe(Object.prototype);
  });
});

describe('serializeFlake', () => {
  const full: Flake = {
    include: { tar: ['/srv/a.tar'], path: ['/etc/a'] },
    container: {
      name: 'registry.example.com/aws-cli:2',
      target_app_path: '/usr/bin/aws',
      host_app_path: '/usr/bin/aws',
      base_container: 'basepython',
      layers: ['python-extras'],
      check_host_dependencies: true,
      digests: { 'registry.example.com/aws-cli:2': `sha256:${'d'.repeat(64)}` },
      host_packages: ['ca-certificates'],
      host_files: 'skip_missing',
      runtime: {
        runas: '0',
        resume: true,
        attach: false,
        podman: ['-e A="b c"', '--entrypoint ["/bin/sh", "-c"]', '--hostname', 'yes'],
      },
    },
  };

  it.each([
    ['a full flake', full],
    ['only defaults', defaults],
  ])('round-trips %s through parse without warnings', (_name, flake) => {
    const text = serializeFlake(flake);
    expect(text.startsWith('# written by pilot register\n')).toBe(true);
    const parsed = flakeFromSources([src(text)]);
    expect(parsed.warnings).toEqual([]);
    expect(parsed.flake).toEqual(flake);
    // show prints a merged flake without claiming register wrote it.
    expect(serializeFlake(flake, { header: '' })).toBe(text.replace(/^# .*\n/, ''));
  });

  it('writes keys in flake-pilot order and omits empty extensions', () => {
    const keys = (text: string) =>
      text
        .split('\n')
        .filter((line) => /^ {0,4}[a-z_]+:/.test(line))
        .map((line) => line.trim().split(':')[0]);
    expect(keys(serializeFlake(full))).toEqual([
      'include',
      'tar',
      'path',
      'container',
      'name',
      'target_app_path',
      'host_app_path',
      'base_container',
      'layers',
      'check_host_dependencies',
      'digests',
      'host_packages',
      'runtime',
      'runas',
      'resume',
      'attach',
      'podman',
    ]);
    const minimal = serializeFlake(defaults);
    expect(minimal).not.toMatch(/digests:|host_packages:|host_files:|runas:|host_app_path:/);
    // flake-pilot 3.1.44 requires the include section, even empty.
    expect(minimal).toMatch(/^include:\n {2}tar: \[\]\n {2}path: \[\]\n/m);
    expect(
      serializeFlake({ ...full, container: { ...full.container, host_files: 'strict' } }),
    ).toMatch(/^ {2}host_files: strict$/m);
  });
});

describe('assertAppName', () => {
  it.each(['aws', 'python3.11', 'g++', 'a_b-c', '7zip', 'X'])('accepts %j', (name) => {
    expect(() => assertAppName(name)).not.toThrow();
  });

  it.each([
    '',
    '.hidden',
    '-x',
    '_x',
    'a/b',
    '../x',
    'a b',
    'a\0b',
    'ä',
    'x'.repeat(201),
  ])('refuses %j', (name) => {
    expect(thrown(() => assertAppName(name)).message).toContain('invalid app name');
  });
});

describe('readFlakeSources', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  it('names the missing file and hints at list/register', () => {
    const error = thrown(() => readFlakeSources(fixtures, 'nope'));
    expect(error.code).toBe('PILOT_FLAKE_UNKNOWN');
    expect(error.message).toContain(join(fixtures, 'nope.yaml'));
    expect(error.hint).toMatch(/pilot list.*pilot register/);
  });

  it('refuses a path as an app name before touching the file system', () => {
    expect(thrown(() => readFlakeSources(fixtures, '../flakes/joe')).code).toBe('PILOT_USAGE');
  });

  it('reads .yaml and .yml drop-ins in code-unit order, skipping others', () => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-flake-'));
    writeFileSync(join(dir, 'x.yaml'), 'container:\n  name: x\n');
    mkdirSync(join(dir, 'x.d'));
    for (const name of ['b.yml', 'B.yaml', 'a.yaml', '.tmp.yaml', 'c.yaml~', 'README']) {
      writeFileSync(join(dir, 'x.d', name), '{}\n');
    }
    expect(readFlakeSources(dir, 'x').map((source) => source.file)).toEqual([
      join(dir, 'x.yaml'),
      join(dir, 'x.d/B.yaml'),
      join(dir, 'x.d/a.yaml'),
      join(dir, 'x.d/b.yml'),
    ]);
  });

  it('refuses, by name and kind, a drop-in that is not a regular file and a drop-in dir that is not a directory', () => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-flake-'));
    writeFileSync(join(dir, 'x.yaml'), 'container:\n  name: x\n');
    mkdirSync(join(dir, 'x.d'));
    mkdirSync(join(dir, 'x.d/sub.yaml'));
    const sub = thrown(() => readFlakeSources(dir, 'x'));
    expect(sub.code).toBe('PILOT_FLAKE_INVALID');
    expect(sub.message).toBe(`${join(dir, 'x.d/sub.yaml')}: is a directory, not a regular file`);
    rmSync(join(dir, 'x.d'), { recursive: true });
    writeFileSync(join(dir, 'x.d'), 'not a directory\n');
    expect(thrown(() => readFlakeSources(dir, 'x')).message).toBe(
      `${join(dir, 'x.d')}: is a regular file, not a directory of drop-ins`,
    );
  });

  it('tells a dangling main flake link from a missing flake', () => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-flake-'));
    symlinkSync(join(dir, 'gone.yaml'), join(dir, 'x.yaml'));
    const error = thrown(() => readFlakeSources(dir, 'x'));
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.message).toBe(
      `${join(dir, 'x.yaml')}: is a symbolic link to ${join(dir, 'gone.yaml')}, which does not exist (a dangling link)`,
    );
  });

  it('loadFlake reports an error in a drop-in with its full path and line', () => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-flake-'));
    writeFileSync(join(dir, 'x.yaml'), 'container:\n  name: x\n');
    mkdirSync(join(dir, 'x.d'));
    writeFileSync(join(dir, 'x.d/50.yaml'), '# comment\ncontainer:\n  layers: 5\n');
    const error = thrown(() => loadFlake(dir, 'x'));
    expect(error.message).toBe(
      `${join(dir, 'x.d/50.yaml')}:3: container.layers: expected a list of strings, got the number 5`,
    );
  });
});

describe('validateFlake on parsed documents', () => {
  it('accepts a single parsed document', () => {
    const doc = parseFlakeSource(src('container:\n  name: busybox\n'));
    expect(validateFlake(doc).flake).toEqual(defaults);
  });
});
