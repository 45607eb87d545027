/**
 * The `images` command: the store's images with their sizes, users, and what the trust
 * policy said when they were pulled ("-" when no policy was consulted).
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
      const { listImages } = await import('../store/images.js');
      const { loadApps, pinnedIds } = await import('../core/app-registry.js');
      const apps = loadApps(paths);
      const usedBy = (id: string) =>
        apps.filter((a) => pinnedIds(a).includes(id)).map((a) => a.app);
      const images = listImages(paths, usedBy);
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
