/**
 * `pilot completion bash|zsh`: shell scripts generated from the same commander
 * definitions as --help, so a new command or option completes without touching
 * this file. App and image names come from `pilot __complete apps|images`, which
 * only lists directories (no flake parsing), so a TAB costs one Node start.
 */
import type { Argument, Command, Option } from 'commander';

/** What a word completes to: nothing, registered apps, image names, paths or fixed words. */
export type ValueKind = 'none' | 'apps' | 'images' | 'files' | 'dirs' | `words:${string}`;

export interface OptionSpec {
  flags: string[];
  description: string;
  /** null: a flag without a value. */
  value: ValueKind | null;
}

export interface CommandSpec {
  name: string;
  description: string;
  options: OptionSpec[];
  /** Kind of each positional argument; the last repeats when `variadic`. */
  args: ValueKind[];
  variadic: boolean;
}

export interface CompletionSpec {
  global: OptionSpec[];
  commands: CommandSpec[];
}

/** Placeholder names pilot uses, mapped to what they complete to. */
function kindOfName(name: string, choices: readonly string[] | undefined): ValueKind {
  if (choices && choices.length > 0) return `words:${choices.join(' ')}`;
  switch (name.replace(/\.\.\.$/, '')) {
    case 'app':
      return 'apps';
    case 'ref':
    case 'image':
      return 'images';
    case 'file':
    case 'source':
    case 'path':
      return 'files';
    case 'dir':
      return 'dirs';
    default:
      return 'none';
  }
}

/** Options whose placeholder would mislead: `--target <path>` is a path inside the image. */
const NO_COMPLETION = new Set(['--target']);

function optionSpec(option: Option): OptionSpec {
  const placeholder = NO_COMPLETION.has(option.long ?? '')
    ? undefined
    : /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    flags: [option.short, option.long].filter((f): f is string => Boolean(f)),
    description: option.description,
    value:
      option.required || option.optional ? kindOfName(placeholder ?? '', option.argChoices) : null,
  };
}

function argumentKind(argument: Argument, commandNames: string[]): ValueKind {
  // commander's own `help [command]`
  if (argument.name() === 'command') return `words:${commandNames.join(' ')}`;
  return kindOfName(argument.name(), argument.argChoices);
}

export function completionSpec(program: Command): CompletionSpec {
  const help = program.createHelp();
  const commands = help.visibleCommands(program);
  const names = commands.map((c) => c.name());
  return {
    global: help.visibleOptions(program).map(optionSpec),
    commands: commands.map((command) => {
      // Not help.visibleArguments(): that hides arguments without a description.
      const args = command.registeredArguments;
      const commandHelp = command.createHelp();
      return {
        name: command.name(),
        description: command.summary() || command.description(),
        options: commandHelp.visibleOptions(command).map(optionSpec),
        // A command with subcommands (podman) takes their names as its first word.
        args:
          command.commands.length > 0
            ? [
                `words:${commandHelp
                  .visibleCommands(command)
                  .map((c) => c.name())
                  .join(' ')}` as ValueKind,
              ]
            : args.map((a) => argumentKind(a, names)),
        variadic: args.at(-1)?.variadic ?? false,
      };
    }),
  };
}

/** `_pilot_option_kind CMD OPT` prints the kind of OPT's value; fails for a flag. */
function optionKindFunction(spec: CompletionSpec): string {
  const cases: string[] = [];
  for (const command of spec.commands) {
    for (const option of command.options) {
      if (option.value === null) continue;
      const patterns = option.flags.map((f) => `"${command.name} ${f}"`).join('|');
      cases.push(`    ${patterns}) echo '${option.value}' ;;`);
    }
  }
  for (const option of spec.global) {
    if (option.value === null) continue;
    cases.push(`    ${option.flags.map((f) => `*" ${f}"`).join('|')}) echo '${option.value}' ;;`);
  }
  return [
    '_pilot_option_kind() {',
    '  case "$1 $2" in',
    ...cases,
    '    *) return 1 ;;',
    '  esac',
    '}',
  ].join('\n');
}

/** `_pilot_argument CMD N` prints the kind of CMD's Nth positional argument. */
function argumentFunction(spec: CompletionSpec): string {
  const cases: string[] = [];
  for (const command of spec.commands) {
    command.args.forEach((kind, index) => {
      const last = index === command.args.length - 1;
      const pattern =
        last && command.variadic ? `"${command.name}:"*` : `"${command.name}:${index}"`;
      cases.push(`    ${pattern}) echo '${kind}' ;;`);
    });
  }
  return [
    '_pilot_argument() {',
    '  case "$1:$2" in',
    ...cases,
    '    *) echo none ;;',
    '  esac',
    '}',
  ].join('\n');
}

/** Parses the words before the cursor: command, `--root`, a pending option value, argument count. */
const SCAN_WORDS = `    w=\${words[i]}
    if [[ -n $expect ]]; then
      [[ $last == --root ]] && _pilot_root=(--root "$w")
      expect=""
      continue
    fi
    case $w in
      --root=*) _pilot_root=("$w") ;;
      --) ;;
      -*) expect=$(_pilot_option_kind "$cmd" "$w") && last=$w ;;
      *) if [[ -z $cmd ]]; then cmd=$w; else nargs=$((nargs + 1)); fi ;;
    esac`;

export function bashCompletion(spec: CompletionSpec): string {
  const optionWords = [
    '_pilot_options() {',
    '  case $1 in',
    `    '') echo '${spec.global.flatMap((o) => o.flags).join(' ')}' ;;`,
    ...spec.commands.map(
      (c) => `    ${c.name}) echo '${c.options.flatMap((o) => o.flags).join(' ')}' ;;`,
    ),
    '  esac',
    '}',
  ].join('\n');
  return `# bash completion for pilot                                  -*- shell-script -*-
# Generated by "pilot completion bash" from pilot's own command definitions.
# Install as /usr/share/bash-completion/completions/pilot, or: source <(pilot completion bash)

_pilot_commands='${spec.commands.map((c) => c.name).join(' ')}'

${optionWords}

${optionKindFunction(spec)}

${argumentFunction(spec)}

_pilot_values() {
  local kind=$1 cur=$2
  case $kind in
    apps | images)
      mapfile -t COMPREPLY < <(compgen -W "$(command pilot "\${_pilot_root[@]}" __complete "$kind" 2>/dev/null)" -- "$cur") ;;
    files)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    dirs)
      compopt -o filenames 2>/dev/null
      mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    words:*) mapfile -t COMPREPLY < <(compgen -W "\${kind#words:}" -- "$cur") ;;
    *) COMPREPLY=() ;;
  esac
}

_pilot() {
  # Split COMP_LINE ourselves: bash's own words break image names at ':'.
  local line=\${COMP_LINE:0:COMP_POINT} cur="" cmd="" expect="" last="" w i nargs=0
  local -a words _pilot_root=()
  read -ra words <<<"$line"
  if [[ ! $line =~ [[:space:]]$ ]] && ((\${#words[@]} > 1)); then
    cur=\${words[\${#words[@]} - 1]}
    unset "words[\${#words[@]} - 1]"
  fi
  for ((i = 1; i < \${#words[@]}; i++)); do
${SCAN_WORDS}
  done
  COMPREPLY=()
  if [[ -n $expect ]]; then
    _pilot_values "$expect" "$cur"
  elif [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_pilot_options "$cmd")" -- "$cur")
  elif [[ -z $cmd ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$_pilot_commands" -- "$cur")
  else
    _pilot_values "$(_pilot_argument "$cmd" "$nargs")" "$cur"
  fi
  # bash replaces only the part of the word after its last ':'.
  if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
    local prefix=\${cur%"\${cur##*:}"}
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${COMPREPLY[i]#"$prefix"}; done
  fi
}

complete -F _pilot pilot
`;
}

/** A zsh `_describe` item: `word:description`, colons in the word escaped, single-quoted. */
function describeItem(word: string, description: string): string {
  return `'${`${word.replace(/:/g, '\\:')}:${description}`.replace(/'/g, `'\\''`)}'`;
}

export function zshCompletion(spec: CompletionSpec): string {
  const optionItems = (options: OptionSpec[]) =>
    options.flatMap((o) => o.flags.map((f) => describeItem(f, o.description))).join(' ');
  const optionList = [
    '_pilot_option_list() {',
    '  case $1 in',
    `    '') opts=(${optionItems(spec.global)}) ;;`,
    ...spec.commands.map((c) => `    ${c.name}) opts=(${optionItems(c.options)}) ;;`),
    '  esac',
    '}',
  ].join('\n');
  return `#compdef pilot
# zsh completion for pilot; generated by "pilot completion zsh" from pilot's own command
# definitions. Install as _pilot in a directory of $fpath (e.g. /usr/share/zsh/site-functions),
# or: source <(pilot completion zsh)

${optionList}

${optionKindFunction(spec)}

${argumentFunction(spec)}

_pilot_values() {
  case $1 in
    apps | images) compadd -- \${(f)"$(command pilot $_pilot_root __complete $1 2>/dev/null)"} ;;
    files) _files ;;
    dirs) _files -/ ;;
    words:*) compadd -- \${=\${1#words:}} ;;
  esac
}

_pilot() {
  local cmd="" expect="" last="" w cur=\${words[CURRENT]}
  local -a _pilot_root opts
  local -i i nargs=0
  local -a _pilot_commands=(${spec.commands.map((c) => describeItem(c.name, c.description)).join(' ')})
  for ((i = 2; i < CURRENT; i++)); do
${SCAN_WORDS}
  done
  if [[ -n $expect ]]; then
    _pilot_values $expect
  elif [[ $cur == -* ]]; then
    _pilot_option_list "$cmd"
    _describe -t options option opts
  elif [[ -z $cmd ]]; then
    _describe -t commands command _pilot_commands
  else
    _pilot_values "$(_pilot_argument "$cmd" "$nargs")"
  fi
}

if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _pilot "$@"
else
  compdef _pilot pilot
fi
`;
}

export function completionScript(program: Command, shell: 'bash' | 'zsh'): string {
  const spec = completionSpec(program);
  return shell === 'bash' ? bashCompletion(spec) : zshCompletion(spec);
}
