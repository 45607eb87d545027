/**
 * In CI (CI=true) no test may skip: a test that skips for a missing tool tests nothing,
 * and a green run would hide it. `.ci/setup` installs every tool the tests probe for;
 * this reporter (vitest.config.ts for the unit run, integration/vitest.config.ts for the
 * integration run) fails the run when any test was skipped all the same, naming each.
 *
 * ALLOWED holds the only exceptions: skips that no tool can cure (a kernel or machine
 * feature a CI runner never has), each with its reason. A run filtered by name (`-t`)
 * skips the tests it leaves out on purpose: it is not checked.
 */
import type { Reporter, TestModule, Vitest } from 'vitest/node';

/** "FILE > SUITE > TEST" (FILE relative to the repository) → why it may skip in CI. */
export const ALLOWED: ReadonlyMap<string, string> = new Map<string, string>(
  [
    'pull: fails whole when the fetch or the load runs out of space, then pulls',
    'load: no partial layer, record or staging dir at any fill level, then loads',
    'register: no flake without a link or the reverse, then registers',
    'first launch: the host layer copy fails with exit 125, then the app runs',
    "kept instance: pilot's own writes fail with 125, the app's get ENOSPC",
  ].map((test) => [
    `integration/full-disk.test.ts > a full ext4 > ${test}`,
    'a runner in a container may have no loop device to put a small ext4 on (its tmpfs half still runs)',
  ]),
);

export interface Skipped {
  name: string;
  allowed?: string;
}

/** The skipped tests of `modules`, each with its allow-list reason if it has one. */
export function skippedTests(
  modules: ReadonlyArray<TestModule>,
  allowed: ReadonlyMap<string, string> = ALLOWED,
): Skipped[] {
  const skipped: Skipped[] = [];
  for (const module of modules) {
    for (const test of module.children.allTests('skipped')) {
      const name = `${module.relativeModuleId} > ${test.fullName}`;
      const reason = allowed.get(name);
      skipped.push(reason === undefined ? { name } : { name, allowed: reason });
    }
  }
  return skipped;
}

export default class NoSkipsInCi implements Reporter {
  private filtered = false;
  private readonly allowed: ReadonlyMap<string, string>;

  /** `options.allowed` replaces ALLOWED (test/ci-no-skips.test.ts checks the check with it). */
  constructor(options: { allowed?: Record<string, string> } = {}) {
    this.allowed = options.allowed ? new Map(Object.entries(options.allowed)) : ALLOWED;
  }

  onInit(vitest: Vitest): void {
    this.filtered = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    if (process.env.CI !== 'true' || this.filtered) return;
    const skipped = skippedTests(modules, this.allowed);
    const refused = skipped.filter((s) => s.allowed === undefined);
    for (const s of skipped) {
      if (s.allowed !== undefined)
        process.stderr.write(`skipped (allowed: ${s.allowed}): ${s.name}\n`);
    }
    if (refused.length === 0) return;
    process.stderr.write(
      `\nCI=true: ${refused.length} test(s) skipped; in CI every test must run ` +
        `(install what it needs in .ci/setup, or allow it in test/ci-no-skips.ts with a reason):\n` +
        refused.map((s) => `  ${s.name}\n`).join(''),
    );
    process.exitCode = 1;
  }
}
