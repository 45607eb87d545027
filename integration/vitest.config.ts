import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['integration/**/*.test.ts'],
    globalSetup: ['integration/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    // Files run in parallel workers; each test root is private, images are shared read-only.
    fileParallelism: true,
    // With CI=true a skipped test fails the run (test/ci-no-skips.ts).
    reporters: ['default', './test/ci-no-skips.ts'],
  },
});
