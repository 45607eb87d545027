/**
 * `pilot completion bash|zsh` and the hidden `pilot __complete apps|images` its scripts
 * call at each TAB (src/cli/completion.ts writes the scripts, src/commands/complete.ts
 * lists the names).
 */
import { Argument, type Command } from 'commander';
import { pathsOf } from './common.js';

export function defineCompletion(program: Command): void {
  program
    .command('completion')
    .description(
      'print a completion script for bash or zsh (commands, options, app and image names)',
    )
    .summary('print a bash or zsh completion script')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .addHelpText(
      'after',
      '\nExample:\n  pilot completion bash > /etc/bash_completion.d/pilot\n  source <(pilot completion zsh)',
    )
    .action(async (shell: 'bash' | 'zsh') => {
      const { completionScript } = await import('./completion.js');
      process.stdout.write(completionScript(program, shell));
    });

  // For the completion scripts: names only, one a line, no flake parsing.
  program
    .command('__complete', { hidden: true })
    .argument('<kind>', 'apps or images')
    .action(async (kind: string, _options, command: Command) => {
      const paths = pathsOf(command, { readOnly: true });
      const { completionWords } = await import('../commands/complete.js');
      const words = completionWords(paths, kind);
      if (words.length > 0) process.stdout.write(`${words.join('\n')}\n`);
    });
}
