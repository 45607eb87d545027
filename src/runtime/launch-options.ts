/**
 * A flake's `runtime.podman` options and `runas`, made concrete for one caller: `%VAR`
 * placeholders expanded from the caller's environment, env files read, the app's
 * identity resolved, and the passwd/group files that make it resolve inside written to
 * the run dir. The result is what launch-plan.ts needs, plus what a fast plan must
 * stamp (files read, variables used).
 */
import { chmodSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../core/atomic-fs.js';
import { PilotError } from '../core/errors.js';
import type { Flake } from '../core/flake-file.js';
import { makeDirs } from '../core/modes.js';
import { fnv1a64 } from '../core/paths.js';
import {
  type PodmanEnv,
  type PodmanOptions,
  parseEnvFile,
  parsePodmanOptions,
} from '../core/podman-options.js';
import { HOST_ACCOUNT_FILES, hostAccount, hostGroup, hostGroupsOf } from './host-accounts.js';
import { type Identity, resolveIdentity, sessionFiles } from './identity.js';
import type { LayeredTree } from './image-tree.js';
import type { PlanEnv, PlanIdentity, PlanOverrides } from './launch-plan.js';

export interface LaunchOptionsInput {
  flake: Flake;
  /** "file:line" of each runtime.podman item. */
  podmanAt: readonly string[];
  tree: LayeredTree;
  caller: { uid: number; gid: number; env: Readonly<Record<string, string | undefined>> };
  /** The caller's run dir: generated passwd/group files go below it. */
  run: string;
  ignoreMissingVolumes: boolean;
}

export interface LaunchOptions {
  options: PodmanOptions;
  identity: Identity;
  overrides: PlanOverrides;
  /** Variables the options used, with their values (undefined: unset): `envdep` records. */
  envdeps: Map<string, string | undefined>;
  /** Files the plan depends on beyond the flake and images (env files, account databases). */
  stamped: string[];
  /** The image's /etc/passwd and /etc/group ('' when it has none): the stub makes a
   * caller's account files from them (docs/plan.md, `accounts`). */
  imageAccounts: { passwd: string; group: string };
}

/** A regular file of the image, by its merged path, or '' when the image has none. */
function imageFile(tree: LayeredTree, path: string): string {
  const entry = tree.lookup(path);
  if (!entry?.stat.isFile()) return '';
  try {
    return readFileSync(join(entry.layer, path), 'utf8');
  } catch {
    return '';
  }
}

function readEnvFile(file: string, at: string): PodmanEnv[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PilotError(
      'PILOT_FLAKE_INVALID',
      `${at}: --env-file ${file}: ${(error as Error).message}`,
      {
        hint: 'create the file, make it readable for the caller, or remove --env-file',
        exitCode: 125,
      },
    );
  }
  return parseEnvFile(text, file);
}

/**
 * Writes `content` below `<run>/session`, named by its FNV-1a hash as the stub names the
 * same file (pilot/exec/caller.c), 0644: the app's uid reads it. The name is short, not
 * a proof: a file of that name with other content is replaced (an image's passwd could
 * be made to collide), and the stub takes one only when its content is the same.
 */
function sessionFile(run: string, content: string, suffix: string): string {
  const dir = join(run, 'session');
  makeDirs(dir);
  const file = join(dir, `${fnv1a64(content)}.${suffix}`);
  let present: string | undefined;
  try {
    present = readFileSync(file, 'utf8');
  } catch {
    present = undefined;
  }
  if (present !== content) writeFileAtomic(file, content, 0o644);
  else chmodSync(file, 0o644);
  return file;
}

export function launchOptions(input: LaunchOptionsInput): LaunchOptions {
  const { flake, caller } = input;
  const envdeps = new Map<string, string | undefined>();
  const where = (index: number) => input.podmanAt[index] ?? `runtime.podman item ${index + 1}`;
  const options = parsePodmanOptions(flake.container.runtime.podman, {
    env: caller.env,
    used: envdeps,
    where,
    kept: flake.container.runtime.resume || flake.container.runtime.attach,
  });
  const stamped: string[] = [...options.envFiles];
  const env: PlanEnv[] = [];
  const entries = [
    ...options.envFiles.flatMap((file, index) => readEnvFile(file, options.envFileAt[index]!)),
    ...options.env,
  ];
  for (const entry of entries) {
    env.push('value' in entry ? { set: entry.name, value: entry.value } : { pass: entry.name });
  }

  const db = {
    hostAccount,
    hostGroupsOf,
    imagePasswd: imageFile(input.tree, '/etc/passwd'),
    imageGroup: imageFile(input.tree, '/etc/group'),
  };
  const account = hostAccount(String(caller.uid));
  const identity = resolveIdentity(
    flake.container.runtime.runas,
    options.user,
    { uid: caller.uid, gid: caller.gid, ...(account ? { account } : {}) },
    db,
  );
  const files = sessionFiles(identity, db, hostGroup);
  const session: { source: string; target: string }[] = [];
  if (files.passwd)
    session.push({ source: sessionFile(input.run, files.passwd, 'passwd'), target: '/etc/passwd' });
  if (files.group)
    session.push({ source: sessionFile(input.run, files.group, 'group'), target: '/etc/group' });
  // An app that runs as its caller has its account files made per call (by the stub too,
  // from the host's files as they are then): only another identity's are the plan's.
  if (identity.changed) stamped.push(...HOST_ACCOUNT_FILES, ...session.map((file) => file.source));

  let planIdentity: PlanIdentity | undefined;
  if (identity.changed) {
    const who = identity.account;
    planIdentity = {
      uid: identity.uid,
      gid: identity.gid,
      groups: identity.groups ?? [identity.gid],
      env: who ? { HOME: who.home, USER: who.name, LOGNAME: who.name } : { HOME: '/' },
      home: identity.source === 'host' ? who?.home : undefined,
    };
  }
  const overrides: PlanOverrides = {
    env,
    volumes: options.volumes,
    tmpfs: options.tmpfs,
    workdir: options.workdir,
    entrypoint: options.entrypoint,
    isolation: {
      readOnly: options.readOnly,
      networkNone: options.network === 'none',
      hostname: options.hostname,
      capDrop: options.capDrop,
      capAdd: options.capAdd,
      noNewPrivileges: options.noNewPrivileges,
      upperSize: options.storageSize,
    },
    identity: planIdentity,
    sessionFiles: session,
    ignoreMissingVolumes: input.ignoreMissingVolumes,
  };
  return {
    options,
    identity,
    overrides,
    envdeps,
    stamped,
    imageAccounts: { passwd: db.imagePasswd, group: db.imageGroup },
  };
}
