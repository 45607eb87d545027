/**
 * The `load` command's commander definition and its output: one progress and one result
 * line per source, each failure on stderr as it happens (src/commands/load.ts decides
 * what loads and what a failure does).
 */
import type { Command } from 'commander';
import { formatError } from '../core/errors.js';
import { escapeName } from '../core/excerpt.js';
import { collect, pathsOf, printJson, printWarning, shortId } from './common.js';
export function defineLoad(program: Command): void {
  program
    .command('load')
    .description(
      'load oci-archives and docker-archives (plain, gzip, xz or zstd), OCI layout and docker save directories into the store; a quoted pattern is expanded by pilot',
    )
    .summary('load image archives or directories')
    .argument('[source...]', 'archive file, directory or pattern')
    .option(
      '--oci <file>',
      "a source, as flake-ctl spells it (NAME or NAME's highest version NAME*)",
      collect,
      [],
    )
    .option('--name <ref>', 'name the image (one source only: when it has no name, or in addition)')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print nothing on success')
    .addHelpText(
      'after',
      "\nExamples:\n  pilot load busybox-base.oci.tar --name pilot/busybox-base\n  pilot load 'images/*.tar.xz'",
    )
    .action(runLoad);
}

/** What `pilot load` and `pilot podman load` (flake-ctl's `--oci`) both run. */
export async function runLoad(
  args: string[],
  options: { oci?: string[]; name?: string; json?: boolean; quiet?: boolean },
  command: Command,
): Promise<void> {
  const { loadedSummaries, loadEach, loadFailure, resolveLoadSources } = await import(
    '../commands/load.js'
  );
  const { createProgress } = await import('../core/progress.js');
  // A root pilot cannot use is the first thing to hear about, before any source.
  const paths = pathsOf(command);
  const sources = resolveLoadSources(args, options.oci);
  const several = sources.length > 1;
  let progress = createProgress(false, '');
  const result = await loadEach(paths, sources, {
    name: options.name,
    onWarning: printWarning,
    onStart: (source) => {
      progress = createProgress(
        options.quiet || options.json ? false : undefined,
        `loading ${escapeName(source.path)}`,
      );
      return progress.update;
    },
    onOutcome: ({ source, results, error }) => {
      progress.done();
      if (error !== undefined) process.stderr.write(`${formatError(error)}\n`);
      if (options.json || options.quiet || !results) return;
      // Which file a pattern or --oci NAME chose, or which of several this is.
      const from = several || source.from ? ` from ${escapeName(source.path)}` : '';
      for (const r of results) {
        process.stdout.write(
          `loaded ${r.names.join(', ') || '(no name)'} ${shortId(r.image.id)}${from}: ${r.newLayers} new layer(s), ${r.reusedLayers} shared\n`,
        );
      }
    },
  });
  if (options.json) {
    printJson(loadedSummaries(result));
  }
  const failure = loadFailure(result);
  if (failure === undefined) return;
  // One source: its error (printed above) is the whole story; no summary line.
  if (result.outcomes.length + result.skipped.length === 1) process.exitCode = failure.exitCode;
  else throw failure;
}
