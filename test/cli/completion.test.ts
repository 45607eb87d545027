import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { completionSpec } from '../../src/cli/completion.js';
import { buildProgram } from '../../src/cli.js';
import { type Installed, installPilot, run, writeTestArchive } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

const hasZsh = spawnSync('zsh', ['-fc', 'true']).status === 0;

let installed: Installed;
let work: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  installed = installPilot();
  work = mkdtempSync(join(tmpdir(), 'pilot-completion-'));
  // The scripts call `pilot`: the installed one comes first in PATH.
  env = {
    PILOT_ROOT: join(work, 'root'),
    PATH: `${dirname(installed.bin)}:${process.env.PATH}`,
  };
  const ok = (args: string[]) => {
    const r = run(installed.bin, args, { env });
    if (r.code !== 0) throw new Error(`pilot ${args.join(' ')}: ${r.stderr}`);
  };
  ok(['load', writeTestArchive(work, 'hello', 'test/hello:1'), '--quiet']);
  ok(['load', writeTestArchive(work, 'world', 'test/world'), '--quiet']);
  ok(['register', '--container', 'test/hello:1', '--app', '/usr/bin/hello']);
  ok(['register', '--container', 'test/world', '--app', '/usr/local/bin/world']);
}, 300_000);

afterAll(() => {
  installed?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

function helpCommands(): string[] {
  const help = run(installed.bin, ['--help']).stdout;
  const start = help.indexOf('Commands:\n');
  return help
    .slice(start)
    .split('\n')
    .slice(1)
    .filter((line) => /^ {2}\S/.test(line))
    .map((line) => line.trim().split(/\s/)[0]!);
}

/** Completes `line` (cursor at its end) with the bash script; returns COMPREPLY. */
function bashComplete(line: string): string[] {
  const script = join(installed.destdir, 'usr/share/bash-completion/completions/pilot');
  const r = run(
    'bash',
    [
      '--norc',
      '-c',
      `source "$1"; COMP_LINE=$2; COMP_POINT=\${#COMP_LINE}; COMP_WORDBREAKS=$' \\t\\n"\\'><=;|&(:'; _pilot; printf '%s\\n' "\${COMPREPLY[@]}"`,
      'bash',
      script,
      line,
    ],
    { env },
  );
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter((w) => w !== '');
}

/** Completes with the zsh script, stubbing the completion system's builtins. */
function zshComplete(line: string): string {
  const script = join(installed.destdir, 'usr/share/zsh/site-functions/_pilot');
  const stubs = `
compdef() { :; }
compadd() { [[ $1 == -- ]] && shift; print -r -- "compadd $*"; }
_describe() { print -r -- "describe \${(P)4}"; }
_files() { print -r -- "files $*"; }
source "$1"
words=(\${(z)2}); [[ $2 == *' ' ]] && words+=('')
CURRENT=\${#words}
_pilot`;
  const r = run('zsh', ['-fc', stubs, 'zsh', script, line], { env });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

describe('pilot completion', () => {
  it('prints the installed scripts (same definitions, same text)', () => {
    const bash = run(installed.bin, ['completion', 'bash']);
    expect(bash.code).toBe(0);
    expect(bash.stdout).toBe(
      readFileSync(join(installed.destdir, 'usr/share/bash-completion/completions/pilot'), 'utf8'),
    );
    const zsh = run(installed.bin, ['completion', 'zsh']);
    expect(zsh.stdout).toBe(
      readFileSync(join(installed.destdir, 'usr/share/zsh/site-functions/_pilot'), 'utf8'),
    );
    expect(zsh.stdout.split('\n')[0]).toBe('#compdef pilot');
  });

  it('bash script names every command of --help and every option', () => {
    const script = run(installed.bin, ['completion', 'bash']).stdout;
    const commands = /^_pilot_commands='([^']*)'$/m.exec(script)?.[1]?.split(' ');
    expect(commands).toEqual(helpCommands());
    for (const command of completionSpec(buildProgram()).commands) {
      for (const option of command.options) {
        for (const flag of option.flags) expect(script).toContain(flag);
      }
    }
  });

  it('completes commands, options and argument values in bash', () => {
    expect(bashComplete('pilot re')).toEqual(['register', 'remove']);
    expect(bashComplete('pilot load --')).toEqual([
      '--oci',
      '--name',
      '--json',
      '--quiet',
      '--help',
    ]);
    expect(bashComplete('pilot -')).toEqual(['-V', '--version', '--root', '-h', '--help']);
    expect(bashComplete('pilot completion ')).toEqual(['bash', 'zsh']);
    expect(bashComplete('pilot help do')).toEqual(['doctor']);
    expect(bashComplete('pilot register --target ')).toEqual([]);
  });

  it('completes registered app names and image names in bash', () => {
    expect(bashComplete('pilot show ')).toEqual(['hello', 'world']);
    expect(bashComplete('pilot check w')).toEqual(['world']);
    expect(bashComplete('pilot rmi ')).toEqual(['test/hello:1', 'test/world:latest']);
    expect(bashComplete('pilot register --app /usr/bin/x --base test/w')).toEqual([
      'test/world:latest',
    ]);
    // bash breaks words at ':' and replaces only what follows it
    expect(bashComplete('pilot rmi test/hello:')).toEqual(['1']);
  });

  it('passes --root on to the name lookup', () => {
    expect(bashComplete(`pilot --root ${join(work, 'empty')} show `)).toEqual([]);
    expect(bashComplete(`pilot --root ${join(work, 'root')} show h`)).toEqual(['hello']);
  });

  it.skipIf(!hasZsh)('completes commands, options, apps and images in zsh', () => {
    expect(
      run('zsh', ['-n', join(installed.destdir, 'usr/share/zsh/site-functions/_pilot')]).code,
    ).toBe(0);
    expect(zshComplete('pilot ')).toMatch(/^describe load:load image archives or directories/);
    expect(zshComplete('pilot show ')).toBe('compadd hello world');
    expect(zshComplete('pilot register --layer ')).toBe('compadd test/hello:1 test/world:latest');
    expect(zshComplete('pilot load ')).toBe('files');
    expect(zshComplete('pilot doctor --')).toContain('--json:print an array of checks');
  });
});

describe('pilot __complete', () => {
  it('lists registered apps and image names, one a line', () => {
    expect(run(installed.bin, ['__complete', 'apps'], { env }).stdout).toBe('hello\nworld\n');
    expect(run(installed.bin, ['__complete', 'images'], { env }).stdout).toBe(
      'test/hello:1\ntest/world:latest\n',
    );
  });

  it('prints nothing (and creates nothing) for a root without a store', () => {
    const root = join(work, 'fresh');
    for (const kind of ['apps', 'images']) {
      const r = run(installed.bin, ['__complete', kind], { env: { PILOT_ROOT: root } });
      expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    }
    expect(spawnSync('test', ['-e', root]).status).toBe(1);
  });

  it('refuses another kind with a usage error', () => {
    const r = run(installed.bin, ['__complete', 'users'], { env });
    expect(r.code).toBe(2);
  });
});

describe('completionSpec', () => {
  const spec = completionSpec(buildProgram());
  const command = (name: string) => spec.commands.find((c) => c.name === name)!;
  const option = (name: string, flag: string) =>
    command(name).options.find((o) => o.flags.includes(flag))!;

  it('derives what each argument and option value completes to', () => {
    expect(command('load').args).toEqual(['files']);
    expect(command('load').variadic).toBe(true);
    expect(option('load', '--oci').value).toBe('files');
    expect(command('show').args).toEqual(['apps']);
    expect(command('rmi').args).toEqual(['images']);
    expect(command('completion').args).toEqual(['words:bash zsh']);
    expect(command('help').args[0]).toMatch(/^words:load pull /);
    expect(option('register', '--base').value).toBe('images');
    expect(option('register', '--include-tar').value).toBe('files');
    expect(option('register', '--target').value).toBe('none');
    expect(option('register', '--resume').value).toBeNull();
    expect(spec.global.find((o) => o.flags.includes('--root'))?.value).toBe('dirs');
  });

  it('leaves hidden commands out', () => {
    expect(spec.commands.map((c) => c.name)).not.toContain('__complete');
    expect(spec.commands.map((c) => c.name)).not.toContain('__man');
  });

  it('writes zsh descriptions safely quoted', () => {
    const file = join(tmpdir(), `pilot-zsh-${process.pid}`);
    writeFileSync(file, run(installed.bin, ['completion', 'zsh']).stdout);
    try {
      expect(readFileSync(file, 'utf8')).toContain("'check:check an app'\\''s host files");
    } finally {
      rmSync(file, { force: true });
    }
  });
});
