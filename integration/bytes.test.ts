/**
 * A caller's arguments, environment and cwd reach the app byte for byte, on every
 * path (DESIGN.md, Running): the warm-path stub, the Node launcher (first call,
 * PILOT_FASTPATH=off) and the calls the stub always leaves to it (`%…`, `@…`), as
 * root and as an unprivileged caller.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipReason, TestRoot } from './harness.js';

const skip = skipReason();
const NOBODY = 65534;

describe.skipIf(skip !== '')('caller bytes', () => {
  let root: TestRoot;
  let parent: string;
  const app = '/usr/bin/pilot-test';

  beforeAll(() => {
    root = new TestRoot('bytes');
    chmodSync(root.dir, 0o755);
    root.load('busybox-base', 'hello-delta');
    root.ok([
      'register',
      '--container',
      'pilot/hello-delta',
      '--base',
      'pilot/busybox-base',
      '--app',
      app,
    ]);
    parent = mkdtempSync(join(tmpdir(), 'pilot-bytes-'));
    chmodSync(parent, 0o755);
    // A directory named with a byte that is not UTF-8, writable by nobody too.
    const dir = Buffer.concat([Buffer.from(`${parent}/caf`), Buffer.of(0xe9)]);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
  });
  afterAll(() => {
    root?.cleanup();
    if (parent) rmSync(parent, { recursive: true, force: true });
  });

  /** Runs the app from bash, so that `$'…'` gives raw bytes; returns stdout as bytes. */
  const call = (script: string, env: NodeJS.ProcessEnv = {}, uid?: number) => {
    const r = spawnSync('bash', ['-c', `cd "$PARENT"/caf$'\\xe9' && ${script}`], {
      env: { ...root.env(env), PARENT: parent, APP: root.link(app), HOME: parent },
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    expect(r.stderr.toString()).toBe('');
    expect(r.status).toBe(0);
    return r.stdout;
  };
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

  const paths: [string, NodeJS.ProcessEnv, string][] = [
    ['the Node launcher', { PILOT_FASTPATH: 'off' }, ''],
    ['the warm-path stub', {}, ''],
    ['a %option call', {}, ' %ignore_sync_error'],
  ];
  for (const uid of [undefined, NOBODY]) {
    for (const [name, env, extra] of paths) {
      it(`${name}${uid ? ' (unprivileged)' : ''}: arguments, environment and cwd`, () => {
        // Twice: the first call of a path plans, the second may take the stub.
        for (let i = 0; i < 2; i++) {
          expect(call(`"$APP" args $'caf\\xe9' $'\\x01\\xff'${extra}`, env, uid)).toEqual(
            bytes('[caf', [0xe9], ']\n[', [0x01, 0xff], ']\n'),
          );
          expect(call(`X=$'a\\xffb' "$APP" env X${extra}`, env, uid)).toEqual(
            bytes('a', [0xff], 'b\n'),
          );
          expect(call(`"$APP" pwd${extra}`, env, uid)).toEqual(
            bytes(`${parent}/caf`, [0xe9], '\n'),
          );
        }
      });
    }
  }

  it('@@x gives the app @x, bytes and all', () => {
    expect(call(`"$APP" args $'@@\\xe9'`)).toEqual(bytes('[@', [0xe9], ']\n'));
  });
});
