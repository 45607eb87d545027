/**
 * flake-pilot compatibility of the flake schema (issue 14): what upstream does with
 * default targets, repeated keys, relative includes and firecracker flakes, and that every
 * flake `pilot register` writes passes flake-pilot 3.1.44's schema.
 *
 * "flake-pilot 3.1.44's schema": the check in upstream-schema.ts (its header says which
 * fields upstream requires).
 */

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registrationFlake } from '../../src/commands/register.js';
import { PilotError } from '../../src/core/errors.js';
import {
  absoluteIncludes,
  type FlakeSource,
  flakeFromSources,
  serializeFlake,
} from '../../src/core/flake-file.js';
import { targetOf } from '../../src/runtime/launch-plan.js';
import { upstreamSchemaErrors } from './upstream-schema.js';

function src(text: string, file = 'app.yaml'): FlakeSource {
  return { file, text };
}

function thrown(fn: () => unknown): PilotError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PilotError);
    return error as PilotError;
  }
  throw new Error('expected a PilotError');
}

describe('the upstream schema check itself', () => {
  it("accepts flake-ctl's own template, filled in", () => {
    const template = parse(
      'include:\n  tar: ~\n  path: ~\ncontainer:\n  name: n\n  target_app_path: /usr/bin/x\n  host_app_path: /usr/bin/x\n  base_container: ~\n  check_host_dependencies: false\n  layers: ~\n  runtime:\n    runas: any\n    resume: false\n    attach: false\n    podman:\n      - "-ti"\n',
    );
    expect(upstreamSchemaErrors(template)).toEqual([]);
  });

  it('finds what podman-pilot and flake-ctl would refuse', () => {
    expect(
      upstreamSchemaErrors(parse('container:\n  name: n\n  runtime:\n    resume: true\n')),
    ).toEqual([
      'include: missing or not a mapping',
      'container.target_app_path: undefined',
      'container.host_app_path: undefined',
      'container.check_host_dependencies: undefined',
      'container.runtime.runas: undefined',
    ]);
  });
});

describe('every flake pilot register writes passes flake-pilot 3.1.44', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const shapes: {
    name: string;
    options: Parameters<typeof registrationFlake>[0];
    target: string;
  }[] = [];
  for (const base of [undefined, 'pilot/base'])
    for (const layers of [[], ['l1', 'localhost/l2:1']])
      for (const includes of [false, true])
        for (const mode of ['one-shot', 'resume', 'attach'] as const)
          for (const opts of [[], ['-e A=1', '--volume /data:/data']])
            for (const target of ['/usr/bin/app', '/'])
              shapes.push({
                name: `${base ? 'base' : 'no base'}, ${layers.length} layers, ${includes ? 'includes' : 'no includes'}, ${mode}, ${opts.length} opts, target ${target}`,
                target,
                options: {
                  container: 'localhost/test/delta:latest',
                  base,
                  layers,
                  includeTar: includes ? ['/srv/a.tar.gz'] : [],
                  includePath: includes ? ['/etc/app'] : [],
                  hostPackages: includes ? ['jq'] : [],
                  resume: mode === 'resume',
                  attach: mode === 'attach',
                  opts,
                },
              });

  it.each(shapes.map((s) => [s.name, s] as const))('%s', (_name, shape) => {
    const refs = [shape.options.container, ...shape.options.layers];
    if (shape.options.base) refs.push(shape.options.base);
    const flake = registrationFlake(
      shape.options,
      shape.target,
      '/usr/bin/app',
      Object.fromEntries(refs.map((r) => [r, digest])),
    );
    const text = serializeFlake(flake);
    expect(upstreamSchemaErrors(parse(text))).toEqual([]);
    // pilot reads back exactly what it wrote, without a warning.
    const read = flakeFromSources([src(text)]);
    expect(read.warnings).toEqual([]);
    expect(read.flake).toEqual(flake);
  });
});

describe('upstream rules pilot follows', () => {
  it("runs the app's own name from the image's PATH without target_app_path", () => {
    const { flake } = flakeFromSources([
      src('container:\n  name: img\n  host_app_path: /usr/bin/tool\n'),
    ]);
    expect(flake.container.target_app_path).toBeUndefined();
    expect(targetOf(flake, 'tool')).toBe('tool');
    const explicit = flakeFromSources([src('container:\n  name: img\n  target_app_path: /\n')]);
    expect(targetOf(explicit.flake, 'tool')).toBe('/');
  });

  it('takes the last of two container: keys, with a warning naming both lines', () => {
    const { flake, warnings } = flakeFromSources([
      src('container:\n  name: first\ncontainer:\n  name: second\n'),
    ]);
    expect(flake.container.name).toBe('second');
    expect(warnings).toEqual([
      {
        file: 'app.yaml',
        line: 3,
        message: expect.stringMatching(/"container" is repeated .*first on line 1.*last one wins/),
      },
    ]);
  });

  it('refuses a relative include.tar at read time, saying why and what to do', () => {
    const error = thrown(() =>
      flakeFromSources([src('include:\n  tar: [conf.tar]\ncontainer:\n  name: a\n')]),
    );
    expect(error.code).toBe('PILOT_FLAKE_INVALID');
    expect(error.message).toMatch(/^app\.yaml:2: include\.tar\.0: expected an absolute path/);
    expect(error.hint).toMatch(/caller's working directory.*pilot migrate/);
  });

  it('makes relative includes absolute once, with a warning per entry', () => {
    const r = absoluteIncludes(
      { tar: ['conf.tar', '/srv/b.tar'], path: ['../etc/app'] },
      '/home/admin/flakes',
    );
    expect(r.include).toEqual({
      tar: ['/home/admin/flakes/conf.tar', '/srv/b.tar'],
      path: ['/home/admin/etc/app'],
    });
    expect(r.warnings).toEqual([
      expect.stringMatching(
        /^include\.tar "conf\.tar" is relative: written as "\/home\/admin\/flakes\/conf\.tar"/,
      ),
      expect.stringMatching(/^include\.path "\.\.\/etc\/app" is relative/),
    ]);
  });

  it('recognises a firecracker flake (vm:) as an engine this host lacks, exit 127', () => {
    const firecracker =
      'include:\n  tar: ~\n  path: ~\nvm:\n  name: leap\n  target_app_path: /usr/bin/bash\n  host_app_path: /usr/bin/leap\n  runtime:\n    runas: root\n    firecracker:\n      mem_size_mib: 4096\n';
    const error = thrown(() => flakeFromSources([src(firecracker, 'leap.yaml')]));
    expect(error.code).toBe('PILOT_ENGINE_MISSING');
    expect(error.exitCode).toBe(127);
    expect(error.message).toBe(
      'leap.yaml:4: a firecracker-pilot flake ("vm:"): this host has no firecracker engine; pilot runs container flakes only',
    );
    // Without vm: it stays the usual error.
    expect(thrown(() => flakeFromSources([src('include: {}\n')])).message).toMatch(
      /container\.name is required/,
    );
  });

  it.each([
    ['absent', '', 'skip_missing'],
    ['skip_missing', '  host_files: skip_missing\n', 'skip_missing'],
    ['strict', '  host_files: strict\n', 'strict'],
  ])('reads container.host_files %s', (_name, line, policy) => {
    const { flake, warnings } = flakeFromSources([src(`container:\n  name: a\n${line}`)]);
    expect(flake.container.host_files).toBe(policy);
    expect(warnings).toEqual([]);
  });

  it('refuses another host_files value, naming file:line and the choices', () => {
    const error = thrown(() =>
      flakeFromSources([src('container:\n  name: a\n  host_files: fatal\n')]),
    );
    expect(error.message).toBe(
      'app.yaml:3: container.host_files: expected one of skip_missing, strict, got the string "fatal"',
    );
  });
});
