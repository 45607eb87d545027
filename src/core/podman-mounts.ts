/**
 * podman's ways to mount something into the app: `-v SRC:DST[:OPTIONS]`, `--mount
 * type=bind|tmpfs,...` and `--tmpfs DIR[:OPTIONS]`, read into the binds and tmpfs
 * mounts pilot's sandbox makes. Anything that needs podman's storage (named and
 * anonymous volumes, image mounts) is refused with what to write instead.
 */
import { escapeExcerpt, quoteExcerpt } from './excerpt.js';
import { type OptionState, parseSize } from './podman-option-values.js';
import type { PodmanVolume } from './podman-options.js';
import { startsWithPlaceholder } from './podman-words.js';

/** `-v SRC:DST[:OPTIONS]`: a bind of a host path given from "/". */
export function addVolume(state: OptionState, spec: string): void {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) {
    state.fail(
      parts.length === 1
        ? 'an anonymous volume needs podman storage; pilot binds host paths only (SRC:DST)'
        : 'expected SRC:DST[:OPTIONS]',
    );
  }
  const [source, target, optionText] = parts as [string, string, string | undefined];
  if (!source.startsWith('/') && !(state.unexpanded && startsWithPlaceholder(source))) {
    state.failUnset(source, 'the source');
    const dst = escapeExcerpt(target, 40);
    // podman reads a word without "/" or a leading "." as the name of a volume it keeps.
    if (source.startsWith('.') || source.includes('/')) {
      state.fail(
        `the source ${quoteExcerpt(source)} is a relative path; pilot binds a host path given from "/" (an app runs from any directory)`,
        `write the whole path, e.g. -v /srv/data:${dst}, or start it with %HOME for the caller's home`,
      );
    }
    state.fail(
      `${quoteExcerpt(source)} is a named volume; pilot keeps no volumes and binds host paths only (an absolute SRC)`,
      `bind a host directory instead, e.g. -v /srv/${escapeExcerpt(source, 40)}:${dst}`,
    );
  }
  state.absolute(target, 'the volume target');
  const volume: PodmanVolume = {
    source,
    target,
    readOnly: false,
    flags: [],
    written: state.written,
  };
  for (const option of optionText ? optionText.split(',') : []) {
    volumeOption(state, volume, option);
  }
  state.out.volumes.push(volume);
}

function volumeOption(state: OptionState, volume: PodmanVolume, option: string): void {
  switch (option) {
    case 'ro':
    case 'rw':
      volume.readOnly = option === 'ro';
      return;
    case 'nosuid':
    case 'nodev':
    case 'noexec':
      if (!volume.flags.includes(option)) volume.flags.push(option);
      return;
    // SELinux relabelling, the kind of bind (always recursive here), the host's own
    // flags and private propagation (every mount of the app is private) change nothing.
    case 'z':
    case 'Z':
    case 'rbind':
    case 'suid':
    case 'dev':
    case 'exec':
    case 'private':
    case 'rprivate':
      return;
    default:
      state.fail(
        `volume option ${quoteExcerpt(option)} is not supported`,
        'pilot supports ro, rw, nosuid, nodev, noexec (z, Z, rbind, private are accepted)',
      );
  }
}

/** `--mount type=bind|tmpfs,KEY=VALUE,...`. */
export function addMount(state: OptionState, spec: string): void {
  const fields = new Map<string, string>();
  for (const field of spec.split(',')) {
    const equals = field.indexOf('=');
    const key = (equals < 0 ? field : field.slice(0, equals)).trim();
    fields.set(key, equals < 0 ? 'true' : field.slice(equals + 1));
  }
  const type = fields.get('type');
  fields.delete('type');
  const take = (...keys: string[]): string | undefined => {
    let found: string | undefined;
    for (const key of keys) {
      if (fields.has(key)) found = fields.get(key);
      fields.delete(key);
    }
    return found;
  };
  const target = take('target', 'destination', 'dst');
  if (target === undefined) state.fail('--mount needs target=DIR');
  if (type === 'bind') {
    const source = take('source', 'src');
    if (source === undefined) state.fail('a bind mount needs source=PATH');
    const readOnly = take('readonly', 'ro');
    const volume: PodmanVolume = {
      source: state.absolute(source, 'the bind source'),
      target: state.absolute(target, 'the mount target'),
      readOnly: readOnly !== undefined && readOnly !== 'false' && readOnly !== '0',
      flags: [],
      written: state.written,
    };
    const propagation = take('bind-propagation');
    if (propagation !== undefined && !['private', 'rprivate'].includes(propagation)) {
      state.fail(
        `bind-propagation=${escapeExcerpt(propagation)}: every mount of the app is private`,
      );
    }
    take('relabel', 'z', 'Z');
    noMoreFields(state, fields);
    state.out.volumes.push(volume);
  } else if (type === 'tmpfs') {
    const options: string[] = [];
    const size = take('tmpfs-size');
    const mode = take('tmpfs-mode');
    if (size !== undefined) options.push(`size=${tmpfsSize(state, size)}`);
    if (mode !== undefined) options.push(`mode=${tmpfsMode(state, mode)}`);
    const readOnly = take('readonly', 'ro');
    if (readOnly !== undefined && readOnly !== 'false') options.push('ro');
    noMoreFields(state, fields);
    state.out.tmpfs.push({
      target: state.absolute(target, 'the tmpfs target'),
      options: options.join(','),
    });
  } else {
    state.fail(
      `type=${type === undefined ? '(none)' : escapeExcerpt(type)} is not supported`,
      'pilot supports --mount type=bind and type=tmpfs (volumes and images need podman storage)',
    );
  }
}

function noMoreFields(state: OptionState, fields: Map<string, string>): void {
  const [first] = fields.keys();
  if (first !== undefined) state.fail(`${quoteExcerpt(first)} is not supported in --mount`);
}

function tmpfsSize(state: OptionState, text: string): string {
  if (/^\d+%$/.test(text)) return text;
  const bytes = parseSize(text);
  if (bytes === undefined) state.fail(`size ${quoteExcerpt(text)} is not a size (e.g. 64m)`);
  return String(bytes);
}

function tmpfsMode(state: OptionState, text: string): string {
  if (!/^[0-7]{1,4}$/.test(text)) state.fail(`mode ${quoteExcerpt(text)} is not an octal mode`);
  return text;
}

/** `--tmpfs DIR[:OPTIONS]`, with the options mount(8) gives tmpfs that grant nothing. */
export function addTmpfs(state: OptionState, spec: string): void {
  const colon = spec.indexOf(':');
  const target = colon < 0 ? spec : spec.slice(0, colon);
  const options: string[] = [];
  for (const option of colon < 0 ? [] : spec.slice(colon + 1).split(',')) {
    const equals = option.indexOf('=');
    const key = equals < 0 ? option : option.slice(0, equals);
    const value = option.slice(equals + 1);
    if (option === '') continue;
    if (['ro', 'rw', 'exec', 'noexec', 'nosuid', 'nodev'].includes(option)) options.push(option);
    else if (key === 'size') options.push(`size=${tmpfsSize(state, value)}`);
    else if (key === 'mode') options.push(`mode=${tmpfsMode(state, value)}`);
    else if ((key === 'nr_inodes' || key === 'uid' || key === 'gid') && /^\d+$/.test(value)) {
      options.push(option);
    } else if (option === 'suid' || option === 'dev') {
      state.fail(`"${option}" would let the app gain what its caller does not have`);
    } else {
      state.fail(
        `tmpfs option ${quoteExcerpt(option)} is not supported`,
        'pilot supports size, mode, nr_inodes, uid, gid, ro, rw, exec, noexec, nosuid, nodev',
      );
    }
  }
  state.out.tmpfs.push({
    target: state.absolute(target, 'the tmpfs target'),
    options: options.join(','),
  });
}
