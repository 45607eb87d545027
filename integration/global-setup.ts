import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { inCi, missingRequirements } from './requirements.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');

export default function setup(project: TestProject): void {
  project.provide('skipReason', '');
  const missing = missingRequirements();
  if (missing.length > 0) {
    const message = `integration tests need: ${missing.join(', ')}`;
    if (inCi) throw new Error(`${message} (CI=true: failing instead of skipping)`);
    process.stderr.write(`SKIPPING integration tests: ${message}\n`);
    project.provide('skipReason', message);
    return;
  }
  execFileSync('make', ['build'], { cwd: repo, stdio: 'inherit' });
  // The example images, cached in build/examples (debootstrap in /var/cache/pilot-examples):
  // the busybox ones always, the Debian python base and its KIWI-style delta unless
  // PILOT_EXAMPLES_SMALL=1 (its first build runs debootstrap: a few minutes).
  const small = process.env.PILOT_EXAMPLES_SMALL === '1';
  execFileSync(join(repo, 'examples/build.sh'), small ? ['--small'] : [], {
    cwd: repo,
    stdio: 'inherit',
  });
}

declare module 'vitest' {
  export interface ProvidedContext {
    skipReason: string;
  }
}
