/**
 * The `pull` command and the registry options `pull` and `register` share
 * (`--tls-verify`, `--cert-dir`, `--creds`, `--authfile`, `--signature-policy`), spelled
 * as skopeo and podman spell them.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { PullOptions } from '../commands/pull.js';
import { formatBytes, pathsOf, printJson, printWarning, shortId } from './common.js';

function parseBool(value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new InvalidArgumentError('give true or false (e.g. --tls-verify=false)');
}

/** Adds the registry options to `command`. */
export function addRegistryOptions(command: Command): Command {
  return command
    .addOption(
      new Option(
        '--tls-verify [bool]',
        "check the registry's TLS certificate; false: do not, and try plain HTTP when HTTPS fails",
      ).argParser(parseBool),
    )
    .option(
      '--cert-dir <dir>',
      'CAs (*.crt) and client certificates (*.cert + *.key) of the registry',
    )
    .option('--creds <user:password>', 'log in to the registry as USER')
    .option(
      '--authfile <file>',
      'read registry logins from FILE (default: the containers auth files)',
    )
    .option(
      '--signature-policy <file>',
      'trust policy to check the image against (default ~/.config/containers/policy.json, else /etc/containers/policy.json)',
    )
    .option(
      '--registries.d <dir>',
      'where signature lookaside URLs are configured (default ~/.config/containers/registries.d, else /etc/containers/registries.d)',
    );
}

export interface RegistryFlags {
  tlsVerify?: boolean;
  certDir?: string;
  creds?: string;
  authfile?: string;
  signaturePolicy?: string;
  'registries.d'?: string;
  registriesD?: string;
}

/** The registry part of the pull options, from the flags. */
export function registryOptions(flags: RegistryFlags): PullOptions {
  return {
    tlsVerify: flags.tlsVerify,
    certDir: flags.certDir,
    creds: flags.creds,
    authFile: flags.authfile,
    signaturePolicy: flags.signaturePolicy,
    registriesDir: flags['registries.d'] ?? flags.registriesD,
    onWarning: printWarning,
  };
}

export function definePull(program: Command): void {
  const pull = program
    .command('pull')
    .description(
      'fetch an image: from its registry when the name has one (only what the store lacks, every digest checked), else from podman storage',
    )
    .summary('fetch an image from a registry or podman storage')
    .argument('<ref>', 'image reference, e.g. registry.example.com/team/app:1.0 or NAME@sha256:…')
    .option('--name <ref>', 'also name the image REF in the store')
    .option('--json', 'print the result as JSON')
    .option('-q, --quiet', 'print nothing on success');
  addRegistryOptions(pull)
    .addHelpText(
      'after',
      '\nExamples:\n  pilot pull registry.example.com/team/app:1.0\n  pilot pull 127.0.0.1:5000/team/app:1.0 --tls-verify=false\n  pilot pull localhost/myapp:latest   (podman storage)',
    )
    .action(async (ref: string, options, command: Command) => {
      const { pullRef, pullSummaries } = await import('../commands/pull.js');
      const { createProgress } = await import('../core/progress.js');
      const progress = createProgress(
        options.quiet || options.json ? false : undefined,
        `pulling ${ref}`,
      );
      const outcome = await pullRef(pathsOf(command), ref, {
        ...registryOptions(options),
        name: options.name,
        onProgress: progress.update,
      });
      progress.done();
      if (options.json) return printJson(pullSummaries(outcome));
      if (options.quiet) return;
      for (const r of outcome.results) {
        const fetched =
          outcome.from === 'registry'
            ? `: ${outcome.fetchedLayers} layer(s) fetched (${formatBytes(outcome.fetchedBytes ?? 0)}), ${r.reusedLayers} present`
            : ' from podman storage';
        process.stdout.write(`pulled ${r.names.join(', ')} ${shortId(r.image.id)}${fetched}\n`);
      }
    });
}
