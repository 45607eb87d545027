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
  // The small example images (busybox base, deltas); cached in build/examples.
  execFileSync(join(repo, 'examples/build.sh'), ['--small'], { cwd: repo, stdio: 'inherit' });
}

declare module 'vitest' {
  export interface ProvidedContext {
    skipReason: string;
  }
}
