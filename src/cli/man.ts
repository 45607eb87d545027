/**
 * Man pages rendered from the commander definitions that `--help` prints, so the two
 * cannot drift: pilot(1) lists every command, and each command gets pilot-NAME(1)
 * with its arguments, options and the example from its help text.
 * `make build` runs `pilot __man dist/man` on the built bundle.
 */
import type { EventEmitter } from 'node:events';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argument, Command, Help, Option } from 'commander';
import { ensureDirSync } from 'fs-extra/esm';

interface PageInfo {
  version: string;
  date: string;
}

export interface ManPage {
  /** File name, e.g. `pilot-load.1`. */
  file: string;
  text: string;
}

/** Escapes text for roff: backslashes, hyphens (so `--x` copies as ASCII), leading dots. */
export function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** `-q, --quiet <x>`: flags in bold, placeholders in italics. */
function term(flags: string): string {
  return flags
    .split(/(\s+|,)/)
    .map((token) => {
      if (token.startsWith('-')) return `\\fB${roff(token)}\\fR`;
      if (/^[<[]/.test(token)) return `\\fI${roff(token)}\\fR`;
      return roff(token);
    })
    .join('');
}

/** The page date: SOURCE_DATE_EPOCH (reproducible package builds) or today. */
export function manDate(env: NodeJS.ProcessEnv = process.env): string {
  const epoch = Number(env.SOURCE_DATE_EPOCH);
  const date =
    Number.isFinite(epoch) && env.SOURCE_DATE_EPOCH ? new Date(epoch * 1000) : new Date();
  return date.toISOString().slice(0, 10);
}

function heading(name: string, summary: string, page: PageInfo): string[] {
  return [
    `.TH ${name.toUpperCase()} 1 ${page.date} "pilot ${page.version}" "User Commands"`,
    '.SH NAME',
    `${roff(name)} \\- ${roff(summary)}`,
  ];
}

function optionItems(help: Help, options: readonly Option[]): string[] {
  return options.flatMap((option) => [
    '.TP',
    term(help.optionTerm(option)),
    roff(help.optionDescription(option)),
  ]);
}

function argumentItems(help: Help, args: readonly Argument[]): string[] {
  return args.flatMap((argument) => [
    '.TP',
    `\\fI${roff(help.argumentTerm(argument))}\\fR`,
    roff(help.argumentDescription(argument)),
  ]);
}

/** The text a command's `addHelpText('after', ...)` adds to its --help (its example). */
export function helpTextAfter(command: Command): string {
  let text = '';
  // commander keeps addHelpText() as listeners of this event (a Command is an EventEmitter).
  const emitter = command as unknown as EventEmitter;
  emitter.emit('afterHelp', {
    error: false,
    command,
    write: (s: string) => {
      text += s;
    },
  });
  return text.trim();
}

function examples(command: Command): string[] {
  const after = helpTextAfter(command);
  if (after === '') return [];
  const lines = after.split('\n');
  const title = /^examples?:$/i.test(lines[0]!.trim()) ? lines.shift()! : '';
  return [
    title.toLowerCase().startsWith('example') ? '.SH EXAMPLES' : '.SH NOTES',
    '.RS 4',
    '.nf',
    ...lines.map((line) => roff(line.replace(/^ {2}/, ''))),
    '.fi',
    '.RE',
  ];
}

function summaryOf(command: Command): string {
  return command.summary() || command.description();
}

function globalOptions(program: Command): Option[] {
  return program.options.filter((o) => !o.hidden && o.long !== '--version');
}

/** A command's visible subcommands (`podman register`, ...), without commander's `help`. */
function subcommands(command: Command): Command[] {
  return command
    .createHelp()
    .visibleCommands(command)
    .filter((c) => command.commands.includes(c));
}

/** `parents`: the names between pilot and the command (`podman` for `podman register`). */
function commandPage(
  program: Command,
  command: Command,
  page: PageInfo,
  parents: string[] = [],
): ManPage {
  const help = command.createHelp();
  const words = [...parents, command.name()];
  const name = `pilot-${words.join('-')}`;
  const lines = [
    ...heading(name, summaryOf(command), page),
    '.SH SYNOPSIS',
    `\\fBpilot ${roff(words.join(' '))}\\fR ${roff(command.usage())}`,
    '.SH DESCRIPTION',
    roff(command.description()),
  ];
  const args = help.visibleArguments(command);
  if (args.length > 0) lines.push('.SH ARGUMENTS', ...argumentItems(help, args));
  const subs = subcommands(command);
  if (subs.length > 0) {
    lines.push('.SH COMMANDS');
    for (const sub of subs) {
      const subName = `pilot-${[...words, sub.name()].join('-')}`;
      lines.push(
        '.TP',
        `\\fBpilot ${roff([...words, sub.name()].join(' '))}\\fR ${roff(sub.usage())}`,
        `${roff(summaryOf(sub))}\n.br\nSee \\fB${roff(subName)}\\fR(1).`,
      );
    }
  }
  lines.push('.SH OPTIONS', ...optionItems(help, help.visibleOptions(command)));
  const global = globalOptions(program);
  if (global.length > 0) lines.push('.SH GLOBAL OPTIONS', ...optionItems(help, global));
  const seeAlso = parents.length > 0 ? `\\fBpilot\\-${roff(parents.join('-'))}\\fR(1), ` : '';
  lines.push(...examples(command), '.SH SEE ALSO', `${seeAlso}\\fBpilot\\fR(1)`);
  return { file: `${name}.1`, text: `${lines.join('\n')}\n` };
}

/** The page of a command and those of its subcommands, depth first. */
function commandPages(
  program: Command,
  command: Command,
  page: PageInfo,
  parents: string[] = [],
): ManPage[] {
  const words = [...parents, command.name()];
  return [
    commandPage(program, command, page, parents),
    ...subcommands(command).flatMap((sub) => commandPages(program, sub, page, words)),
  ];
}

const PROGRAM_SECTIONS = `.SH ENVIRONMENT
.TP
\\fBPILOT_ROOT\\fR
Put everything under this directory, as \\fB\\-\\-root\\fR does: the store at
\\fIDIR/var/lib/pilot\\fR, flakes at \\fIDIR/usr/share/flakes\\fR, app links at
\\fIDIR/<app path>\\fR, runtime state at \\fIDIR/run/pilot\\fR.
.TP
\\fBPILOT_DEBUG\\fR
Set to 1 to make the launcher print each step with its time to standard error.
.TP
\\fBNO_COLOR\\fR
pilot never colours its output; progress is drawn only when standard error is a terminal.
.SH FILES
.TP
\\fI/var/lib/pilot\\fR
The image store (for an unprivileged user: \\fI$XDG_DATA_HOME/pilot\\fR).
.TP
\\fI/usr/share/flakes\\fR
Flake files, \\fIAPP.yaml\\fR and drop\\-ins \\fIAPP.d/*.yaml\\fR (user: \\fI~/.config/flakes\\fR).
.TP
\\fI/run/pilot\\fR
Runtime state: launch plans, locks, mount points.
.SH EXIT STATUS
0 on success, 1 when input is refused or something is missing, 2 on a usage error.
An app started through its link exits with the app's own status, 128+N when it died of
signal N, and 125 to 127 only for the launcher's own failures.
`;

function programPage(program: Command, commands: Command[], page: PageInfo): ManPage {
  const help = program.createHelp();
  const lines = [
    ...heading('pilot', program.description(), page),
    '.SH SYNOPSIS',
    `\\fBpilot\\fR [\\fB\\-\\-root\\fR \\fIdir\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]`,
    '.SH DESCRIPTION',
    roff(program.description()),
    '.PP',
    roff(
      "An app registered with \"pilot register\" runs from a root file system composed of a base image, a delta image with the app's own files (plus optional layers), and host files the delta lists in its /removed file. The app link in the host's PATH points at pilot's launcher; arguments, standard input and output, working directory, exit code and signals behave as for a host binary.",
    ),
    '.SH OPTIONS',
    ...optionItems(help, help.visibleOptions(program)),
    '.SH COMMANDS',
  ];
  for (const command of help.visibleCommands(program)) {
    const own = commands.includes(command);
    lines.push(
      '.TP',
      `\\fBpilot ${roff(command.name())}\\fR ${roff(command.usage())}`,
      roff(summaryOf(command)) +
        (own ? `\n.br\nSee \\fBpilot\\-${roff(command.name())}\\fR(1).` : ''),
    );
  }
  lines.push(
    PROGRAM_SECTIONS.trimEnd(),
    '.SH SEE ALSO',
    commands.map((c) => `\\fBpilot\\-${roff(c.name())}\\fR(1)`).join(',\n'),
  );
  return { file: 'pilot.1', text: `${lines.join('\n')}\n` };
}

/** pilot(1) and one page per visible command (commander's own `help` command has none). */
export function renderManPages(program: Command, version: string, date = manDate()): ManPage[] {
  const page = { version, date };
  const commands = program
    .createHelp()
    .visibleCommands(program)
    .filter((c) => program.commands.includes(c));
  return [
    programPage(program, commands, page),
    ...commands.flatMap((c) => commandPages(program, c, page)),
  ];
}

/** Replaces the pages in `dir` (pages of commands that no longer exist go too). */
export function writeManPages(program: Command, version: string, dir: string): string[] {
  ensureDirSync(dir);
  for (const old of readdirSync(dir)) {
    if (/^pilot(-.*)?\.1$/.test(old)) rmSync(join(dir, old));
  }
  const pages = renderManPages(program, version);
  for (const page of pages) writeFileSync(join(dir, page.file), page.text);
  return pages.map((p) => p.file);
}
