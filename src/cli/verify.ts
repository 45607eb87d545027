/**
 * The `verify` command's commander definition and its output (src/commands/verify.ts
 * checks, verify-repair.ts repairs). Exit 1 while any damage remains.
 */
import type { Command } from 'commander';
import { escapeName } from '../core/excerpt.js';
import { collect, pathsOf, printJson, shortId } from './common.js';

/** At most this many files of one kind are listed per layer in the text output (--json has all). */
const LISTED = 20;

export function defineVerify(program: Command): void {
  program
    .command('verify')
    .description(
      'read every layer of the store and compare it with what was recorded when it was extracted (content, type, mode, owner, link target, overlay xattrs of every file); check image records and names; exit 1 on damage',
    )
    .summary('check the store for damage (exit 1 if damaged)')
    .option(
      '--repair',
      'restore what can be restored (rebuild records, extract damaged layers again)',
    )
    .option(
      '--from <archive>',
      'with --repair: an archive that holds damaged layers (repeatable)',
      collect,
      [],
    )
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  pilot verify\n  pilot verify --repair --from debian-python-base.tar',
    )
    .action(runVerify);
}

async function runVerify(
  options: { repair?: boolean; from: string[]; json?: boolean },
  command: Command,
): Promise<void> {
  const { verifyAndRepair } = await import('../commands/verify.js');
  const paths = pathsOf(command);
  const started = Date.now();
  const { found, report, repairs } = await verifyAndRepair(paths, {
    repair: Boolean(options.repair),
    from: options.from,
  });
  process.exitCode = report.damaged ? 1 : 0;
  if (options.json) {
    printJson({ ...report, ...(options.repair ? { found, repairs } : {}) });
    return;
  }
  printDamage(found);
  for (const action of repairs) {
    const what = action.kind === 'image' ? `image ${shortId(action.id)}` : `layer ${action.id}`;
    process.stdout.write(
      action.done
        ? `repaired ${what}: ${action.detail}\n`
        : `cannot repair ${what}: ${action.detail}\n`,
    );
  }
  const baseline = report.layers.filter((l) => l.baseline);
  if (baseline.length > 0) {
    process.stdout.write(
      `note: ${baseline.length} layer(s) had no manifest (extracted by an earlier pilot): recorded now, not checked against what was extracted\n`,
    );
  }
  const files = report.layers.reduce((sum, l) => sum + l.entries, 0);
  const bytes = report.layers.reduce((sum, l) => sum + l.bytes, 0);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const damagedLayers = report.layers.filter((l) => l.damaged).length;
  const damagedImages = report.images.filter((i) => i.damaged).length;
  const summary = `${report.images.length} image(s), ${report.layers.length} layer(s), ${files} entries (${(bytes / 1e6).toFixed(1)} MB) in ${seconds} s`;
  process.stdout.write(
    report.damaged
      ? `${options.repair && repairs.length > 0 ? 'still damaged after repair' : 'damaged'}: ${damagedLayers} layer(s), ${damagedImages} image(s) of ${summary}${options.repair ? '' : '; "pilot verify --repair" restores what it can'}\n`
      : `${repairs.length > 0 ? 'repaired; ' : ''}store is whole: ${summary}\n`,
  );
}

function list(kind: string, items: string[]): void {
  for (const item of items.slice(0, LISTED)) process.stdout.write(`  ${kind} ${item}\n`);
  if (items.length > LISTED)
    process.stdout.write(`  … and ${items.length - LISTED} more ${kind}\n`);
}

function printDamage(report: import('../commands/verify.js').VerifyReport): void {
  for (const layer of report.layers.filter((l) => l.damaged)) {
    const users =
      layer.images.length > 0 ? layer.images.map((n) => escapeName(n)).join(', ') : 'no image';
    const counts = [
      layer.corrupted.length > 0 ? `${layer.corrupted.length} corrupted` : '',
      layer.missing.length > 0 ? `${layer.missing.length} missing` : '',
      layer.extra.length > 0 ? `${layer.extra.length} extra` : '',
    ].filter((c) => c !== '');
    process.stdout.write(
      `layer ${layer.diffId} (used by ${users}): ${[...layer.problems, counts.length > 0 ? `${counts.join(', ')} file(s)` : ''].filter((p) => p !== '').join('; ')}\n`,
    );
    list(
      'corrupted',
      layer.corrupted.map((c) => `${escapeName(c.path)}: ${c.changes.join(', ')}`),
    );
    list(
      'missing',
      layer.missing.map((p) => escapeName(p)),
    );
    list(
      'extra',
      layer.extra.map((p) => escapeName(p)),
    );
  }
  for (const image of report.images.filter((i) => i.damaged)) {
    const name =
      image.names.length > 0 ? image.names.map((n) => escapeName(n)).join(', ') : '(no name)';
    const why = [
      ...image.problems,
      ...(image.damagedLayers.length > 0
        ? [`uses damaged layer(s) ${image.damagedLayers.map((l) => l.slice(0, 19)).join(', ')}`]
        : []),
    ];
    process.stdout.write(`image ${name} ${shortId(image.id)}: ${why.join('; ')}\n`);
  }
}
