/**
 * flake-ctl's command line as commander parses it (`pilot podman ...`: variadic and
 * repeated values, exclusions, bad forms) and pilot run under the name `flake-ctl`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Command, CommanderError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFlakeCtlProgram } from '../../src/cli/flake-ctl.js';
import { podmanCommand } from '../../src/cli/podman.js';
import { repo } from './helpers.js';

/** The options `podman SUB args...` parses to, without running its action. */
function parsed(args: string[]): Record<string, unknown> {
  const podman = podmanCommand();
  let seen: Record<string, unknown> | undefined;
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
    for (const sub of command.commands) {
      quiet(sub);
      sub.action((options) => {
        seen = options;
      });
    }
  };
  quiet(podman);
  podman.parse(args, { from: 'user' });
  if (!seen) throw new Error('no subcommand ran');
  return seen;
}

function usageError(args: string[]): string {
  try {
    parsed(args);
  } catch (error) {
    expect(error).toBeInstanceOf(CommanderError);
    return (error as CommanderError).message;
  }
  throw new Error(`accepted: ${args.join(' ')}`);
}

describe('pilot podman register: flake-ctl flags', () => {
  const register = ['register', '--container', 'pilot/hello-delta', '--app', '/usr/bin/hello'];

  it('takes several values after one --layer, and repeated --layer, in order', () => {
    const options = parsed([...register, '--base', 'b', '--layer', 'l1', 'l2', '--layer', 'l3']);
    expect(options.layer).toEqual(['l1', 'l2', 'l3']);
    expect(parsed([...register, '--layer', 'x']).layer).toEqual(['x']);
  });

  it('takes --include-tar, --include-path and --opt the same way', () => {
    const options = parsed([
      ...register,
      '--include-tar',
      '/a.tar',
      '/b.tar',
      '--include-path',
      '/etc/a',
      '--include-path',
      '/etc/b',
      '--opt',
      '\\--net host',
      '--opt',
      '-e A=1',
    ]);
    expect(options.includeTar).toEqual(['/a.tar', '/b.tar']);
    expect(options.includePath).toEqual(['/etc/a', '/etc/b']);
    expect(options.opt).toEqual(['\\--net host', '-e A=1']);
  });

  it('parses every other flake-ctl flag', () => {
    const options = parsed([
      ...register,
      '--target',
      '/bin/hello',
      '--base',
      'pilot/busybox-base',
      '--resume',
      '--run-as',
      'nobody',
      '--check-host-dependencies',
      '--force',
    ]);
    expect(options).toMatchObject({
      container: 'pilot/hello-delta',
      app: '/usr/bin/hello',
      target: '/bin/hello',
      base: 'pilot/busybox-base',
      resume: true,
      runAs: 'nobody',
      checkHostDependencies: true,
      force: true,
    });
    expect(parsed(['register', '--container', 'c', '--info'])).toMatchObject({ info: true });
    expect(parsed([...register]).layer).toBeUndefined();
  });

  it('refuses bad forms as commander usage errors (exit 2)', () => {
    expect(usageError([...register, '--resume', '--attach'])).toMatch(/cannot be used with/);
    expect(usageError(['register', '--app', '/usr/bin/x'])).toMatch(
      /--container <name>' not specified/,
    );
    expect(usageError([...register, '--privileged'])).toMatch(/unknown option '--privileged'/);
    expect(usageError(['registr'])).toMatch(/unknown command 'registr'/);
  });
});

describe('pilot podman remove|load|pull|show', () => {
  it("parses flake-ctl's forms", () => {
    expect(parsed(['remove', '--app', '/usr/bin/x', '--force'])).toEqual({
      app: '/usr/bin/x',
      force: true,
    });
    expect(parsed(['remove', '--container', 'c'])).toEqual({ container: 'c' });
    expect(parsed(['load', '--oci', '/x.tar'])).toEqual({ oci: '/x.tar' });
    expect(parsed(['pull', '--uri', 'registry.example.com/a:1'])).toEqual({
      uri: 'registry.example.com/a:1',
    });
    expect(parsed(['show'])).toEqual({ format: 'table' });
    expect(parsed(['show', '--format', 'csv'])).toEqual({ format: 'csv' });
  });

  it('refuses missing values and unknown formats', () => {
    expect(usageError(['load'])).toMatch(/--oci <file>' not specified/);
    expect(usageError(['pull'])).toMatch(/--uri <ref>' not specified/);
    expect(usageError(['show', '--format', 'yaml'])).toMatch(
      /Allowed choices are table, json, csv/,
    );
  });
});

describe('the flake-ctl program', () => {
  it("has flake-ctl's commands: podman, list, init (firecracker is refused, hidden)", () => {
    const program = buildFlakeCtlProgram('0.0.0');
    expect(program.name()).toBe('flake-ctl');
    expect(program.commands.map((c) => c.name())).toEqual([
      'podman',
      'list',
      'init',
      'firecracker',
    ]);
    const list = program.commands.find((c) => c.name() === 'list')!;
    expect(list.options.find((o) => o.long === '--format')?.defaultValue).toBe('table');
  });
});

describe("argv[0] = flake-ctl selects flake-ctl's command level (built CLI)", () => {
  let dir: string;
  const cli = join(repo, 'dist/pilot.mjs');
  const run = (name: string, args: string[]) => {
    const r = spawnSync(join(dir, name), args, {
      encoding: 'utf8',
      env: { ...process.env, PILOT_ROOT: join(dir, 'root') },
      timeout: 60_000,
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pilot-flake-ctl-name-'));
    symlinkSync(cli, join(dir, 'flake-ctl'));
    symlinkSync(cli, join(dir, 'pilot'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs flake-ctl list with its table by default, and its json', () => {
    const table = run('flake-ctl', ['list']);
    expect(table.code).toBe(0);
    expect(table.stdout).toBe(
      `Flake applications registered in ${join(dir, 'root/usr/share/flakes')}\n\nNo application(s) registered\n`,
    );
    expect(run('flake-ctl', ['list', '--format', 'json']).stdout).toBe('[]\n');
    expect(run('flake-ctl', ['--help']).stdout).toMatch(/^Usage: flake-ctl /);
  });

  it("refuses pilot's own forms under flake-ctl's name, showing flake-ctl's", () => {
    const r = run('flake-ctl', ['register', '--container', 'c', '--app', '/usr/bin/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("flake-ctl: unknown command 'register'");
    expect(r.stderr).toContain('flake-ctl podman register --container NAME --app PATH');
  });

  it('refuses firecracker and build-deb with what to do instead (exit 2)', () => {
    const vm = run('flake-ctl', ['firecracker', 'register', '--vm', 'v', '--app', '/usr/bin/v']);
    expect(vm.code).toBe(2);
    expect(vm.stderr).toContain('pilot runs container apps only');
    const deb = run('flake-ctl', ['podman', 'build-deb', '--oci', 'x', '--repo', 'r']);
    expect(deb.code).toBe(2);
    expect(deb.stderr).toContain('pilot package APP');
  });

  it('stays pilot under any other name', () => {
    const r = run('pilot', ['list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('APP  PATH  CONTAINER  BASE  TARGET\n');
  });
});
