/**
 * The `images` command (the store's images with their sizes, users, and what the trust
 * policy said when they were pulled: "-" when no policy was consulted) and `rmi`; the
 * work is in src/commands/images.ts and rmi.ts.
 */
import type { Command } from 'commander';
import type { TrustVerdict } from '../core/image-record.js';
import { formatBytes, pathsOf, printJson, printTable, shortId } from './common.js';

/** `signedBy (key ABCD…)`, `insecureAcceptAnything`, or `-`. */
export function describeTrust(trust: TrustVerdict | null): string {
  if (trust === null) return '-';
  const keys = trust.keys?.length ? ` (key ${trust.keys.join(',')})` : '';
  return `${trust.requirement}${keys}`;
}

export function defineImages(program: Command): void {
  program
    .command('images')
    .description("list images in the store (TRUST: the trust policy's verdict when pulled)")
    .summary('list images in the store')
    .option('--json', 'print an array of objects')
    .addHelpText('after', '\nExample:\n  pilot images --json')
    .action(async (options, command: Command) => {
      const paths = pathsOf(command);
      const { listStoreImages } = await import('../commands/images.js');
      const images = listStoreImages(paths);
      if (options.json) return printJson(images);
      printTable(
        ['NAME', 'ID', 'SIZE', 'LAYERS', 'SHARED', 'TRUST', 'USED BY'],
        images.map((i) => [
          i.names.join(',') || '<none>',
          shortId(i.id),
          formatBytes(i.size),
          String(i.layers),
          formatBytes(i.sharedSize),
          describeTrust(i.trust),
          i.usedBy.join(','),
        ]),
      );
    });
}

export function defineRmi(program: Command): void {
  program
    .command('rmi')
    .description('remove an image name (layers go with "pilot gc")')
    .argument('<ref>', 'image name or id')
    .option('-f, --force', 'remove even while registered apps use it')
    .addHelpText('after', '\nExample:\n  pilot rmi pilot/hello-delta && pilot gc')
    .action(async (ref: string, options, command: Command) => {
      const paths = pathsOf(command);
      const { removeImageName } = await import('../commands/rmi.js');
      const result = removeImageName(paths, ref, Boolean(options.force));
      for (const name of result.removed) process.stdout.write(`untagged ${name}\n`);
    });
}
