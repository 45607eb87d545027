import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { manDate, renderManPages, roff } from '../../src/cli/man.js';
import { buildProgram } from '../../src/cli.js';
import { type Installed, installPilot, run } from './helpers.js';

vi.setConfig({ testTimeout: 60_000 });

let installed: Installed;
let help: string;
/** `pilot NAME --help` of every command, fetched in parallel (a Node start is ~150 ms). */
const commandHelp = new Map<string, { code: number | null; stdout: string }>();

beforeAll(async () => {
  installed = installPilot();
  help = run(installed.bin, ['--help']).stdout;
  await Promise.all(
    helpCommands().map(async (name) => {
      // execFile rejects on a non-zero exit; the error carries code and stdout.
      const r: { code?: unknown; stdout: string } = await runAsync(
        installed.bin,
        [name, '--help'],
        {
          cwd: tmpdir(),
        },
      ).catch((error: { code: number; stdout: string }) => error);
      commandHelp.set(name, { code: typeof r.code === 'number' ? r.code : 0, stdout: r.stdout });
    }),
  );
}, 300_000);

afterAll(() => installed?.cleanup());

/** The lines of a `--help` section, e.g. "Commands:". */
function section(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(title);
  if (start < 0) return [];
  const end = lines.findIndex((line, i) => i > start && line === '');
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The item terms of a `--help` section (the text before the description column). */
function helpTerms(text: string, title: string): string[] {
  return section(text, title)
    .filter((line) => /^ {2}\S/.test(line))
    .map((line) => line.trim().split(/ {2,}/)[0]!);
}

function helpCommands(): string[] {
  return section(help, 'Commands:')
    .filter((line) => /^ {2}\S/.test(line))
    .map((line) => line.trim().split(/\s/)[0]!);
}

/** Option flags in item terms (`-q, --quiet`, `--name <ref>`): `-q`, `--quiet`, `--name`. */
function flagsIn(terms: string[]): string[] {
  return terms
    .flatMap((term) => term.trim().split(/[\s,]+/))
    .filter((word) => /^--?[a-zA-Z]/.test(word))
    .sort();
}

/** A man page as text: roff font escapes and `\-` removed. */
function manText(file: string): string {
  return readFileSync(file, 'utf8')
    .replace(/\\f[BIRP]/g, '')
    .replace(/\\-/g, '-')
    .replace(/\\e/g, '\\')
    .replace(/\\&/g, '');
}

/** The `.TP` item terms of one `.SH` section of a man page. */
function manTerms(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`.SH ${title}`);
  if (start < 0) return [];
  const terms: string[] = [];
  for (let i = start + 1; i < lines.length && !lines[i]!.startsWith('.SH'); i++) {
    if (lines[i] === '.TP') terms.push(lines[i + 1]!);
  }
  return terms;
}

const runAsync = promisify(execFile);

const man1 = () => join(installed.destdir, 'usr/share/man/man1');

describe('pilot --help', () => {
  it('lists every command with one line each (80 columns, piped)', () => {
    const lines = section(help, 'Commands:');
    expect(lines.length).toBeGreaterThan(10);
    for (const line of lines) expect(line, 'a wrapped command description').toMatch(/^ {2}\S/);
    for (const name of ['load', 'pull', 'images', 'rmi', 'gc', 'register', 'remove', 'list']) {
      expect(helpCommands()).toContain(name);
    }
    for (const name of ['show', 'check', 'doctor', 'completion', 'help']) {
      expect(helpCommands()).toContain(name);
    }
    expect(help).not.toContain('__complete');
    expect(help).not.toContain('__man');
  });

  it("gives every command's --help an example", () => {
    for (const name of helpCommands().filter((c) => c !== 'help')) {
      const r = commandHelp.get(name)!;
      expect(r.code, name).toBe(0);
      expect(r.stdout, name).toMatch(/^Usage: pilot /);
      expect(r.stdout, name).toMatch(/\nExamples?:\n {2}pilot /);
    }
  });

  it('does not print "(default: [])" for repeatable options', () => {
    const r = commandHelp.get('register')!;
    expect(r.stdout).toContain('--layer <ref>');
    expect(r.stdout).not.toContain('default: []');
  });

  it('suggests the closest command for an unknown one and exits 2', () => {
    const r = run(installed.bin, ['lod', 'x.tar']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'lod'");
    expect(r.stderr).toContain('Did you mean load?');
    expect(r.stdout).toBe('');
  });

  it('suggests the closest option for an unknown one and exits 2', () => {
    const r = run(installed.bin, ['load', '--nmae', 'x', 'y.tar']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--nmae'");
    expect(r.stderr).toContain('Did you mean --name?');
  });

  it("names the command of a usage error and points at that command's help", () => {
    const r = run(installed.bin, ['pull', '-rf']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `pilot pull: unknown option '-rf'\n  hint: run "pilot pull --help" for its options and arguments\n`,
    );
    const top = run(installed.bin, ['--bogus']);
    expect(top.stderr).toBe(
      `pilot: unknown option '--bogus'\n  hint: run "pilot --help" for the commands\n`,
    );
  });

  it('exits 2 for a bad argument value and for no command at all', () => {
    const bad = run(installed.bin, ['completion', 'fish']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Allowed choices are bash, zsh/);
    const none = run(installed.bin, []);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: pilot');
  });
});

describe('man pages', () => {
  it('has pilot(1) listing every command of --help and a page per command', () => {
    const pages = readdirSync(man1()).sort();
    const program = manText(join(man1(), 'pilot.1'));
    const listed = manTerms(program, 'COMMANDS').map((t) => t.split(/\s/)[1]);
    expect(listed).toEqual(helpCommands());
    for (const name of helpCommands().filter((c) => c !== 'help')) {
      expect(pages).toContain(`pilot-${name}.1`);
    }
    // pilot.1 + one per command but help, + one per subcommand (podman register, ...)
    const nested = pages.filter((p) => /^pilot-podman-[a-z-]+\.1$/.test(p));
    expect(nested).toEqual(
      ['load', 'pull', 'register', 'remove', 'show'].map((c) => `pilot-podman-${c}.1`),
    );
    expect(pages).toHaveLength(helpCommands().length + nested.length);
  });

  it("lists exactly the options each command's --help lists", () => {
    for (const name of helpCommands().filter((c) => c !== 'help')) {
      const options = helpTerms(commandHelp.get(name)!.stdout, 'Options:');
      const page = manText(join(man1(), `pilot-${name}.1`));
      expect(flagsIn(manTerms(page, 'OPTIONS')), name).toEqual(flagsIn(options));
      expect(flagsIn(manTerms(page, 'GLOBAL OPTIONS')), name).toEqual(['--root']);
      expect(page, name).toContain('.SH EXAMPLES');
    }
    const global = helpTerms(help, 'Options:');
    expect(flagsIn(manTerms(manText(join(man1(), 'pilot.1')), 'OPTIONS'))).toEqual(flagsIn(global));
  });

  it('uses the descriptions --help shows', () => {
    const r = commandHelp.get('load')!;
    const description = r.stdout.split('\n')[2]!;
    expect(manText(join(man1(), 'pilot-load.1'))).toContain(description);
  });

  it('renders from the program definition: every command gets a page', () => {
    const program = buildProgram();
    const pages = renderManPages(program, '9.9.9', '2000-01-01');
    expect(pages.map((p) => p.file)).toContain('pilot-load.1');
    expect(pages[0]!.text).toMatch(/^\.TH PILOT 1 2000-01-01 "pilot 9\.9\.9"/);
    expect(pages.map((p) => p.file)).not.toContain('pilot-__complete.1');
  });

  it('escapes roff: hyphens, backslashes and leading dots', () => {
    expect(roff('--x a\\b\n.dot')).toBe('\\-\\-x a\\eb\n\\&.dot');
    expect(manDate({ SOURCE_DATE_EPOCH: '0' })).toBe('1970-01-01');
  });
});
