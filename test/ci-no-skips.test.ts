/**
 * The CI check that no test skipped (test/ci-no-skips.ts), run on a probe file
 * (test/fixtures/ci-skips) by a real vitest: a skip fails the run only with CI=true,
 * an allowed skip passes with its reason said, a run filtered by name is not checked.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = join(repo, 'test/fixtures/ci-skips');
const vitest = join(repo, 'node_modules/vitest/vitest.mjs');

function probe(env: { CI?: string; PROBE_SKIP?: string }, args: string[] = []) {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete base.CI;
  const r = spawnSync(process.execPath, [vitest, 'run', '--config', 'vitest.config.ts', ...args], {
    cwd: fixture,
    encoding: 'utf8',
    env: { ...base, ...env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('no skipped test in CI', () => {
  it('a skip fails a CI run and is named; outside CI it is only counted', () => {
    const ci = probe({ CI: 'true', PROBE_SKIP: 'tool' });
    expect(ci.out).toContain('1 passed');
    expect(ci.out).toContain('CI=true: 1 test(s) skipped');
    expect(ci.out).toContain('  skips.probe.ts > skips for a missing tool\n');
    expect(ci.code).toBe(1);
    const local = probe({ PROBE_SKIP: 'tool' });
    expect(local.out).toContain('1 skipped');
    expect(local.out).not.toContain('CI=true');
    expect(local.code).toBe(0);
  }, 60_000);

  it('passes a CI run with no skip, and one whose skip is allowed (saying why)', () => {
    const none = probe({ CI: 'true' });
    expect(none.out).toContain('3 passed');
    expect(none.code).toBe(0);
    const allowed = probe({ CI: 'true', PROBE_SKIP: 'allowed' });
    expect(allowed.out).toContain(
      'skipped (allowed: a reason): skips.probe.ts > allowed > skips for a reason',
    );
    expect(allowed.code).toBe(0);
  }, 60_000);

  it('does not check a run filtered by name', () => {
    const filtered = probe({ CI: 'true' }, ['-t', '^runs$']);
    expect(filtered.out).toContain('2 skipped');
    expect(filtered.code).toBe(0);
  }, 60_000);
});
