import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { formatError } from '../../src/core/errors.js';
import { runTool, runToolSync, type ToolOptions } from '../../src/core/tool.js';
import { commandLine, stderrTail, ToolError, toolError } from '../../src/core/tool-error.js';
import { runToolLight, startToolLight } from '../../src/core/tool-light.js';

type Run = (argv: string[], options?: ToolOptions) => Promise<{ stdout: string; exitCode: number }>;

/** The three runners that must fail alike: execa async and sync, and the launch path's. */
const runners: [string, Run][] = [
  ['runTool (execa)', (argv, options) => runTool(argv, options)],
  ['runToolSync (execa)', async (argv, options) => runToolSync(argv, options)],
  ['runToolLight (child_process)', async (argv, options) => runToolLight(argv, options)],
];

async function failure(promise: Promise<unknown>): Promise<ToolError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ToolError);
  return error as ToolError;
}

const dir = mkdtempSync(`${tmpdir()}/pilot-tool-`);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(runners)('%s', (_name, run) => {
  it('returns stdout, with input, env and cwd passed', async () => {
    const r = await run(['sh', '-c', 'cat; printf " %s %s" "$PILOT_TOOL_TEST" "$PWD"'], {
      input: 'in',
      env: { PILOT_TOOL_TEST: 'env' },
      cwd: dir,
    });
    expect(r).toMatchObject({ exitCode: 0, stdout: `in env ${dir}` });
  });

  it('names a missing tool and its Debian package, not what it was to read', async () => {
    const error = await failure(
      run(['zstd-not-here', '-d'], { purpose: 'cannot decompress a.tar.zst' }),
    );
    expect(error.code).toBe('PILOT_TOOL_MISSING');
    expect(error.missing).toBe(true);
    expect(error.message).toBe(
      'cannot decompress a.tar.zst: zstd-not-here is not installed (not found in PATH)',
    );
  });

  it('tells a missing working directory from a missing tool', async () => {
    const error = await failure(run(['true'], { cwd: `${dir}/gone` }));
    expect(error.missing).toBe(false);
    expect(error.message).toBe(`cannot run true: its working directory ${dir}/gone does not exist`);
  });

  it('gives the command, its exit status and the tail of its stderr', async () => {
    const script = 'for i in 1 2 3 4 5 6 7 8 9; do echo "line $i" >&2; done; exit 3';
    const error = await failure(run(['sh', '-c', script], { purpose: 'cannot test' }));
    expect(error.code).toBe('PILOT_TOOL_FAILED');
    expect(error.status).toBe(3);
    expect(error.message).toBe(
      `cannot test: \`sh -c '${script}'\` exited with status 3:\n    line 4\n    line 5\n    line 6\n    line 7\n    line 8\n    line 9`,
    );
  });

  it('takes the code and hint the caller gives a failure', async () => {
    const error = await failure(
      run(['sh', '-c', 'echo corrupt >&2; exit 1'], {
        code: 'PILOT_IMAGE_INVALID',
        hint: 'save it again',
      }),
    );
    expect(error).toMatchObject({ code: 'PILOT_IMAGE_INVALID', hint: 'save it again' });
    expect(error.message).toMatch(/exited with status 1: corrupt$/);
  });

  it('returns the exit statuses the caller allows', async () => {
    expect(await run(['sh', '-c', 'exit 1'], { okExitCodes: [0, 1] })).toMatchObject({
      exitCode: 1,
    });
  });

  it('names the signal that killed it', async () => {
    const error = await failure(run(['sh', '-c', 'kill -KILL $$']));
    expect(error.signal).toBe('SIGKILL');
    expect(error.message).toBe(`\`sh -c 'kill -KILL $$'\` was killed by SIGKILL`);
  });

  it('stops it at its timeout and says so', async () => {
    const error = await failure(run(['sleep', '5'], { timeout: 100 }));
    expect(error.timedOut).toBe(true);
    expect(error.message).toBe('`sleep 5` did not finish within 0.1 s and was stopped');
  });
});

describe('startToolLight (streaming)', () => {
  it('resolves when the tool exits 0, its stdout left to the caller', async () => {
    const { child, exit } = startToolLight(['cat']);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stdin?.end('data');
    await exit;
    expect(out).toBe('data');
  });

  it('fails as the other runners do: missing, exit status with stderr', async () => {
    const missing = await failure(startToolLight(['xz-not-here']).exit);
    expect(missing.code).toBe('PILOT_TOOL_MISSING');
    const { child, exit } = startToolLight(['sh', '-c', 'echo bad data >&2; exit 2'], {
      purpose: 'cannot read it',
    });
    child.stdin?.end();
    const error = await failure(exit);
    expect(error.message).toBe(
      `cannot read it: \`sh -c 'echo bad data >&2; exit 2'\` exited with status 2: bad data`,
    );
  });
});

describe('the error shape', () => {
  it('names the Debian package of a known tool', () => {
    const enoent = Object.assign(new Error('spawn zstd ENOENT'), { code: 'ENOENT' });
    const error = toolError({ argv: ['zstd', '-d'], spawnError: enoent, purpose: 'cannot load x' });
    expect(error.message).toBe('cannot load x: zstd is not installed (apt-get install zstd)');
    expect(formatError(error)).toContain('hint: install zstd');
    const xz = toolError({ argv: ['xz'], spawnError: enoent });
    expect(xz.message).toBe('xz is not installed (apt-get install xz-utils)');
    const helper = toolError({ argv: ['/usr/libexec/pilot/pilot-exec'], spawnError: enoent });
    expect(helper.message).toBe('/usr/libexec/pilot/pilot-exec does not exist');
  });

  it('bounds the stderr tail and escapes what a terminal would act on', () => {
    expect(stderrTail(`${'x'.repeat(5000)}\n`)).toHaveLength(1001);
    expect(stderrTail('a\x1b[31mred\n\n')).toBe('a\\x1b[31mred');
    expect(stderrTail(Buffer.from('bytes\n'))).toBe('bytes');
  });

  it('quotes arguments a shell would split, and cuts a long command', () => {
    expect(commandLine(['tar', '-x', '-C', 'a b', "it's"])).toBe(`tar -x -C 'a b' 'it'\\''s'`);
    expect(commandLine(['mount', '-o', 'x'.repeat(500)]).length).toBeLessThanOrEqual(241);
  });
});
