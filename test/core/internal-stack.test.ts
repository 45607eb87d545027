import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { formatError, PilotError } from '../../src/core/errors.js';
import { mapStack } from '../../src/core/internal-stack.js';

const dir = mkdtempSync(join(tmpdir(), 'pilot-stack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A bundle built as build.mjs builds pilot's (external map, no sourcesContent), and the stack it throws. */
async function bundleStack(withMap: boolean, format: 'esm' | 'cjs' = 'esm'): Promise<string> {
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'src/boom.ts'),
    [
      'export function boom(): never {',
      '  // a bug',
      "  throw new TypeError('a bug of pilot');",
      '}',
      'try { boom(); } catch (e) { process.stdout.write((e as Error).stack ?? ""); }',
      '',
    ].join('\n'),
  );
  const out = join(dir, `${withMap ? 'with' : 'without'}-${format}`);
  const file = join(out, format === 'esm' ? 'boom.mjs' : 'boom.cjs');
  await build({
    entryPoints: [join(dir, 'src/boom.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format,
    sourcemap: withMap ? 'external' : false,
    sourcesContent: false,
    logLevel: 'silent',
  });
  return execFileSync(process.execPath, [file], { encoding: 'utf8' });
}

describe('internal errors point at the source', () => {
  it('maps each bundle frame through the map beside the bundle', async () => {
    const stack = await bundleStack(true);
    expect(stack).toMatch(/boom\.mjs:\d+:\d+/);
    const mapped = mapStack(stack);
    expect(mapped).toContain('TypeError: a bug of pilot');
    expect(mapped).toMatch(/at boom \(src\/boom\.ts:3:9\)/);
    expect(mapped).not.toMatch(/boom\.mjs/);
  });

  it('maps the frames of a CommonJS script (the launcher, chunks/launch.cjs) alike', async () => {
    const stack = await bundleStack(true, 'cjs');
    expect(stack).toMatch(/boom\.cjs:\d+:\d+/);
    const mapped = mapStack(stack);
    expect(mapped).toMatch(/at boom \(src\/boom\.ts:3:9\)/);
    expect(mapped).not.toMatch(/boom\.cjs/);
  });

  it('leaves a frame without a map as it was', async () => {
    const stack = await bundleStack(false);
    expect(mapStack(stack)).toBe(stack);
  });

  it('prints an internal error with its mapped stack and PILOT_INTERNAL; a PilotError with its code', () => {
    const bug = new Error('oops');
    bug.stack = 'Error: oops\n    at x (file:///nowhere/pilot.mjs:1:1)';
    expect(formatError(bug)).toBe(
      'pilot: internal error: Error: oops\n    at x (file:///nowhere/pilot.mjs:1:1)\n  code: PILOT_INTERNAL',
    );
    const refused = new PilotError('PILOT_IMAGE_UNKNOWN', 'no image x', { hint: 'pilot pull x' });
    expect(formatError(refused, 'app')).toBe(
      'app: no image x\n  hint: pilot pull x\n  code: PILOT_IMAGE_UNKNOWN',
    );
  });
});
