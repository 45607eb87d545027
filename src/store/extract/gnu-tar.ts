/**
 * Pass 2: GNU tar extracts, because only it keeps hard links and xattrs (node-tar
 * cannot write xattrs); owners and modes are then made canonical (canonical.ts). It
 * runs alongside pass 1, fed the bytes pass 1 has validated, and lists what it
 * extracted, in its own quoting, for the cross-check against what pass 1 validated.
 */

import { diskFull, diskFullIn } from '../../core/system-error.js';
import { ToolError } from '../../core/tool-error.js';
import { startToolLight } from '../../core/tool-light.js';
import { afterDrain } from './decompress.js';
import { splitEntryPath } from './entry-rules.js';

/** Reverses GNU tar's `escape` quoting (LC_ALL=C): backslash escapes and octal bytes. */
export function decodeTarEscapes(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char !== '\\') {
      for (const byte of Buffer.from(char, 'latin1')) bytes.push(byte);
      continue;
    }
    const next = text[i + 1] ?? '';
    if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(text.slice(i + 1))![0];
      bytes.push(Number.parseInt(octal, 8) & 0xff);
      i += octal.length;
    } else if (next in simple) {
      bytes.push(simple[next]!);
      i += 1;
    } else {
      bytes.push(92);
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * Bytes of validated tar that may wait in Node for GNU tar before `write` waits for it:
 * the socket to tar holds a few hundred KiB, so a drain after each 1 MiB chunk made
 * inflating and parsing wait for tar's file creation, and tar for them in turn.
 */
const TAR_QUEUE = 8 * 1024 * 1024;

function gnuTarArgs(staging: string, privileged: boolean): string[] {
  const args = ['-x', '-v', '-f', '-', '-C', staging, '--numeric-owner', '-p'];
  args.push('--quoting-style=escape', '--warning=no-unknown-keyword', '--warning=no-timestamp');
  // File capabilities, ACLs and overlayfs' own attributes are never taken from an
  // image (canonical permissions, extract/canonical.ts); pilot writes the overlay ones.
  const notTaken = [
    '--xattrs-exclude=security.capability',
    '--xattrs-exclude=trusted.*',
    '--xattrs-exclude=user.overlay.*',
  ];
  if (privileged) args.push('--same-owner', '--xattrs', '--xattrs-include=*', ...notTaken);
  else args.push('--no-same-owner', '--xattrs', '--xattrs-include=user.*', ...notTaken);
  return args;
}

/**
 * Where the validated bytes go: GNU tar's stdin. `write` resolves at once while less than
 * TAR_QUEUE bytes wait for tar, else once tar has taken them all or never will (it exited:
 * `finish` says why); `finish` ends the input and returns what tar
 * listed; `abort` ends tar without a word (the caller has its own error to tell).
 */
export interface ExtractSink {
  write(chunk: Buffer): Promise<void>;
  finish(): Promise<string[]>;
  abort(): Promise<void>;
}

/**
 * Starts pass 2: GNU tar extracting into `staging` whatever is written to the sink.
 * Only bytes the validator has already read go in (validate.ts), so GNU tar never makes
 * an entry the validator has not checked by name first.
 */
export function startExtractPass(staging: string, label: string, privileged: boolean): ExtractSink {
  const { child, exit } = startToolLight(['tar', ...gnuTarArgs(staging, privileged)], {
    purpose: `cannot extract ${label}`,
    code: 'PILOT_RUNTIME',
    env: { LC_ALL: 'C' },
  });
  const stdin = child.stdin!;
  let stdout = '';
  child.stdout!.setEncoding('latin1');
  child.stdout!.on('data', (chunk: string) => {
    stdout += chunk;
  });
  // GNU tar may exit as soon as it reads the end-of-archive blocks, before the padding
  // after them: a closed stdin then is not an error (its exit status says how it went).
  let stdinClosed = false;
  stdin.on('error', () => {
    stdinClosed = true;
  });
  stdin.on('close', () => {
    stdinClosed = true;
  });
  const exited = exit.then(
    () => undefined,
    (error: unknown) => error,
  );
  return {
    async write(chunk) {
      if (stdinClosed) return;
      // Up to TAR_QUEUE bytes wait in Node's queue for GNU tar: the caller goes on
      // inflating and parsing meanwhile rather than waiting for every chunk to be taken.
      stdin.write(chunk);
      if (stdin.writableLength > TAR_QUEUE) {
        await new Promise<void>((resolve) => afterDrain(stdin, resolve));
      }
    },
    async finish() {
      stdin.end();
      const tarError = await exited;
      if (tarError !== undefined) {
        const full = tarError instanceof ToolError ? diskFullIn(tarError.stderr) : undefined;
        if (full !== undefined) {
          throw diskFull(staging, { code: full, doing: `extracting ${label}` });
        }
        throw tarError;
      }
      return stdout
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => {
          const normal = splitEntryPath(decodeTarEscapes(line)).join('/');
          return normal === '' ? '.' : normal;
        });
    },
    async abort() {
      stdin.destroy();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
