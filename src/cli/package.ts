/**
 * The `package` command's commander definition and its output (src/commands/package.ts
 * builds the package).
 */
import { type Command, Option } from 'commander';
import { escapeName } from '../core/excerpt.js';
import { VERSION } from '../core/version.js';
import { pathsOf, printJson } from './common.js';

/**
 * commander takes `--version` anywhere on the line for the program's own (`pilot
 * --version`), before a subcommand sees it: `pilot package APP --version V` is turned
 * into the package command's hidden `--package-version V` first. Only the words after a
 * `package` command word change, and none after `--`.
 */
export function packageVersionArgs(argv: readonly string[]): string[] {
  const out = [...argv];
  let i = 0;
  while (i < out.length && out[i]!.startsWith('-')) i += out[i] === '--root' ? 2 : 1;
  if (out[i] !== 'package') return out;
  for (let j = i + 1; j < out.length && out[j] !== '--'; j++) {
    if (out[j] === '--version') out[j] = '--package-version';
    else if (out[j]!.startsWith('--version=')) out[j] = `--package-version=${out[j]!.slice(10)}`;
  }
  return out;
}

export function definePackage(program: Command): void {
  program
    .command('package')
    .description(
      `build a .deb (or .rpm) that registers APP on the host that installs it: the flake as registered (pins included) and its drop-ins under /usr/share/pilot/apps/APP/, the include tars it names, and with --with-images the pinned images as oci-archives. Installing or upgrading loads the images (or pulls the pinned REF@DIGEST of each the store lacks) and registers the app from the shipped flake, replacing it by rename (never missing during an upgrade); removing removes the registration, images stay until "pilot gc". Depends: pilot (>= ${VERSION}).`,
    )
    .summary('build a .deb that registers an app on install')
    .argument('<app>', 'app name or host path')
    .option('--with-images', 'ship the pinned images in the package (an arch-specific package)')
    .addOption(
      new Option(
        '--format <format>',
        'package format: deb (dpkg-deb) or rpm (rpmbuild; same content and scripts)',
      )
        .choices(['deb', 'rpm'])
        .default('deb'),
    )
    .option('-o, --output <dir>', 'directory to write the package to', '.')
    .option(
      '--version <version>',
      'package version (default: the image tag when it is a version, else 0.0.0+pilot.DATE)',
    )
    .addOption(new Option('--package-version <version>').hideHelp())
    .option('--json', 'print what was built as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pilot package hello --with-images -o /srv/repo\n  pilot package hello --version 1.2.0',
    )
    .action(
      async (
        app: string,
        options: {
          withImages?: boolean;
          format: 'deb' | 'rpm';
          output: string;
          packageVersion?: string;
          json?: boolean;
        },
        command: Command,
      ) => {
        const { buildAppPackage } = await import('../commands/package.js');
        const result = await buildAppPackage(
          pathsOf(command),
          app,
          {
            withImages: Boolean(options.withImages),
            format: options.format,
            outDir: options.output,
            version: options.packageVersion,
          },
          VERSION,
        );
        if (options.json) return printJson(result);
        process.stdout.write(
          `built ${escapeName(result.file)} (${result.package} ${result.version}, ${result.architecture}, ${result.size} bytes)\n`,
        );
      },
    );
}
