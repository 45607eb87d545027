/**
 * The flake-pilot compatibility corpus (test/fixtures/flake-pilot/, issue 14): flakes as
 * flake-ctl 2.2.19 and 3.1.44 write them, as podman-pilot's manual shows them, with
 * drop-ins, a relative include and a firecracker flake. Each reads through pilot's reader
 * to exactly the model below, without a warning (every key is upstream's own); what
 * pilot writes back (register's writer, migrate's pinning and include rewrite) still
 * passes flake-pilot 3.1.44's schema wherever the original did. The same files run for
 * real in integration/compat.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { absoluteIncludesText } from '../../src/commands/migrate-includes.js';
import { checkPinned, pinDigestsText } from '../../src/commands/migrate-plan.js';
import { registrationFlake } from '../../src/commands/register.js';
import { PilotError } from '../../src/core/errors.js';
import {
  type Flake,
  flakeFromSources,
  loadFlake,
  readFlakeSources,
  serializeFlake,
} from '../../src/core/flake-file.js';
import { parsePodmanOptions } from '../../src/core/podman-options.js';
import { targetOf } from '../../src/runtime/launch-plan.js';
import { upstreamSchemaErrors } from './upstream-schema.js';

const corpus = fileURLToPath(new URL('../fixtures/flake-pilot', import.meta.url));
const HELLO = 'compat/hello:1.0';
const BASE = 'compat/base:15.6';
const EXTRAS = 'compat/extras:1';

function flake(container: Partial<Flake['container']>, include: Partial<Flake['include']> = {}) {
  return {
    include: { tar: [], path: [], ...include },
    container: {
      name: HELLO,
      layers: [],
      check_host_dependencies: false,
      digests: {},
      host_packages: [],
      host_files: 'skip_missing',
      runtime: { resume: false, attach: false, podman: [] },
      ...container,
    },
  };
}

/** Every app of the corpus that pilot runs, and the model it must read as. */
const MODELS: Record<string, ReturnType<typeof flake>> = {
  'hello-eb': flake(
    {
      target_app_path: '/usr/bin/pilot-test',
      host_app_path: '/usr/bin/hello-eb',
      base_container: BASE,
      layers: [EXTRAS],
      runtime: {
        runas: 'pilottest',
        resume: false,
        attach: false,
        podman: ['--env COMPAT_FORM=eb-2.2.19', '-e COMPAT_USER=%USER'],
      },
    },
    { tar: ['/srv/pilot-compat/conf.tar'] },
  ),
  'hello-os': flake(
    {
      target_app_path: '/usr/bin/pilot-test',
      host_app_path: '/usr/bin/hello-os',
      base_container: BASE,
      check_host_dependencies: true,
      runtime: {
        runas: 'any',
        resume: true,
        attach: false,
        podman: [
          '--env COMPAT_FORM=os-3.1.44',
          '-e COMPAT_HOME=%HOME/x',
          '--env COMPAT_UNSET=%PILOTCOMPATUNSET',
        ],
      },
    },
    { path: ['/srv/pilot-compat/data'] },
  ),
  'attach-doc': flake({
    target_app_path: '/usr/bin/pilot-test',
    host_app_path: '/usr/bin/attach-doc',
    base_container: BASE,
    layers: [EXTRAS],
    runtime: {
      runas: 'root',
      resume: false,
      attach: true,
      podman: ['--storage-opt size=10G', '--rm', '-ti', '\\-e COMPAT_ESCAPED=yes'],
    },
  }),
  hello: flake({ host_app_path: '/usr/bin/hello', base_container: BASE }),
  dropin: flake(
    {
      target_app_path: '/usr/bin/pilot-test',
      host_app_path: '/usr/bin/dropin',
      base_container: BASE,
      layers: [EXTRAS],
      runtime: { runas: 'root', resume: false, attach: false, podman: ['-e COMPAT_LEVEL=20'] },
    },
    { path: ['/srv/pilot-compat/data'] },
  ),
  kiwi: flake({
    name: 'compat/kiwi-app:1.2.3',
    target_app_path: '/usr/bin/kiwi-app',
    host_app_path: '/usr/bin/kiwi',
    base_container: 'compat/kiwi-base:15.6',
    runtime: { runas: 'any', resume: false, attach: false, podman: ['-ti'] },
  }),
};

/** Apps whose main file flake-ctl 3.1.44 wrote: they pass its schema as they are. */
const WRITTEN_BY_3_1_44 = ['hello-os', 'dropin', 'kiwi'];

function thrown(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error('expected a PilotError');
}

describe('the corpus', () => {
  it('holds exactly the apps this test knows, each with its header saying where its shape comes from', () => {
    const apps = readdirSync(corpus)
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => name.slice(0, -'.yaml'.length))
      .sort();
    expect(apps).toEqual([...Object.keys(MODELS), 'leap', 'relative'].sort());
    for (const app of apps) {
      expect(readFileSync(join(corpus, `${app}.yaml`), 'utf8')).toMatch(/^# Shape: /);
    }
  });

  it.each(Object.entries(MODELS))('%s reads as its model, without a warning', (app, model) => {
    const { flake: read, warnings } = loadFlake(corpus, app);
    expect(warnings).toEqual([]);
    expect(read).toEqual(model);
  });
});

describe('upstream rules the corpus holds', () => {
  it("flake-ctl's vm: ~ beside a container is upstream's own key: no warning", () => {
    expect(readFileSync(join(corpus, 'hello-eb.yaml'), 'utf8')).toMatch(/^vm: ~$/m);
    expect(loadFlake(corpus, 'hello-eb').warnings).toEqual([]);
  });

  it('without target_app_path the app runs its own name from the image PATH', () => {
    expect(targetOf(loadFlake(corpus, 'hello').flake, 'hello')).toBe('hello');
  });

  it('reads the escaped \\-e and the no-ops of the manual, and expands %VAR with upstream rules', () => {
    const doc = parsePodmanOptions(loadFlake(corpus, 'attach-doc').flake.container.runtime.podman, {
      kept: true,
    });
    expect(doc.env).toEqual([{ name: 'COMPAT_ESCAPED', value: 'yes' }]);
    expect(doc.noops.map((n) => n.option)).toEqual(['--storage-opt size=10G', '--rm', '-ti']);
    const os = parsePodmanOptions(loadFlake(corpus, 'hello-os').flake.container.runtime.podman, {
      kept: true,
      env: { HOME: '/home/admin' },
    });
    expect(os.env).toEqual([
      { name: 'COMPAT_FORM', value: 'os-3.1.44' },
      { name: 'COMPAT_HOME', value: '/home/admin/x' },
      // podman-pilot's unset rule: the placeholder becomes $NAME.
      { name: 'COMPAT_UNSET', value: '$PILOTCOMPATUNSET' },
    ]);
  });

  it('merges the drop-ins deeply in name order: .yaml and .yml, lists replaced, hidden and other files skipped', () => {
    const files = readFlakeSources(corpus, 'dropin').map((s) => s.file.slice(corpus.length + 1));
    expect(files).toEqual(['dropin.yaml', 'dropin.d/10-runtime.yaml', 'dropin.d/20-level.yml']);
    expect(readdirSync(join(corpus, 'dropin.d')).sort()).toEqual([
      '.30-hidden.yaml',
      '10-runtime.yaml',
      '20-level.yml',
      'README',
    ]);
    // Without 20-level.yml, 10-runtime.yaml's list is the one that counts.
    const [main, first] = readFlakeSources(corpus, 'dropin');
    expect(flakeFromSources([main!, first!]).flake.container.runtime.podman).toEqual([
      '-e COMPAT_LEVEL=10',
      '-e COMPAT_FROM10=yes',
    ]);
  });

  it('refuses the relative include.tar, naming file:line, until migrate makes it absolute', () => {
    const error = thrown(() => loadFlake(corpus, 'relative'));
    expect(error.message).toBe(
      `${corpus}/relative.yaml:10: include.tar.0: expected an absolute path (starting with "/"), got "conf.tar"`,
    );
    const file = join(corpus, 'relative.yaml');
    const text = readFileSync(file, 'utf8');
    const rewritten = absoluteIncludesText(file, text, '/srv/site');
    expect(rewritten.text).toBe(text.replace('    - conf.tar\n', '    - /srv/site/conf.tar\n'));
    expect(flakeFromSources([{ file, text: rewritten.text }]).flake).toEqual(
      flake(
        {
          target_app_path: '/usr/bin/pilot-test',
          host_app_path: '/usr/bin/relative',
          base_container: BASE,
          runtime: { runas: 'root', resume: false, attach: false, podman: ['-ti'] },
        },
        { tar: ['/srv/site/conf.tar'] },
      ),
    );
  });

  it('reads the firecracker flake flake-ctl writes (container: ~, vm:) as an engine this host lacks', () => {
    const error = thrown(() => loadFlake(corpus, 'leap'));
    expect(error.code).toBe('PILOT_ENGINE_MISSING');
    expect(error.exitCode).toBe(127);
    expect(error.message).toBe(
      `${corpus}/leap.yaml:12: a firecracker-pilot flake ("vm:"): this host has no firecracker engine; pilot runs container flakes only`,
    );
  });
});

describe('what pilot writes back stays readable by flake-pilot 3.1.44', () => {
  const digest = (c: string) => `sha256:${c.repeat(64)}`;

  it.each(Object.keys(MODELS))("%s: register's writer, registering it again", (app) => {
    // What "pilot register --force" writes for the same settings (no --target: the app path).
    const read = loadFlake(corpus, app).flake;
    const c = read.container;
    const refs = [c.name, ...c.layers, ...(c.base_container ? [c.base_container] : [])];
    const written = registrationFlake(
      {
        container: c.name,
        base: c.base_container,
        layers: c.layers,
        includeTar: read.include.tar,
        includePath: read.include.path,
        hostPackages: c.host_packages,
        resume: c.runtime.resume,
        attach: c.runtime.attach,
        opts: c.runtime.podman,
        checkHostDependencies: c.check_host_dependencies,
        ...(c.runtime.runas === undefined ? {} : { runas: c.runtime.runas }),
      },
      c.target_app_path ?? c.host_app_path!,
      c.host_app_path!,
      Object.fromEntries(refs.map((ref) => [ref, digest('d')])),
    );
    const text = serializeFlake(written);
    expect(upstreamSchemaErrors(parse(text))).toEqual([]);
    const back = flakeFromSources([{ file: 'x.yaml', text }]);
    expect(back.warnings).toEqual([]);
    expect(back.flake).toEqual(written);
  });

  it.each([...Object.keys(MODELS), 'relative'])("%s: migrate's pinning", (app) => {
    const sources = readFlakeSources(corpus, app);
    const [main, ...dropIns] = sources;
    const { text } = absoluteIncludesText(main!.file, main!.text, '/srv/site');
    const before = flakeFromSources([{ ...main!, text }, ...dropIns]).flake;
    const c = before.container;
    const refs = [c.name, ...c.layers, ...(c.base_container ? [c.base_container] : [])];
    const pins = Object.fromEntries(refs.map((ref, i) => [ref, digest('abc'[i] ?? 'f')]));
    const pinned = pinDigestsText(main!.file, text, pins);
    checkPinned([{ ...main!, text }, ...dropIns], pinned, before, pins);
    // Only the pins were added: every line of the file is still there, in order.
    const added = pinned.split('\n').filter((line) => !text.split('\n').includes(line));
    expect(added.every((line) => /^ +(digests:|\S+: sha256:)/.test(line))).toBe(true);
    const upstream = upstreamSchemaErrors(parse(pinned));
    if (WRITTEN_BY_3_1_44.includes(app)) expect(upstream).toEqual([]);
    else expect(upstream).toEqual(upstreamSchemaErrors(parse(main!.text)));
  });
});
