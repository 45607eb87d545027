// The unit run (`make unit`: vitest run --dir test). Vitest's defaults, plus the CI check
// that no test skipped (test/ci-no-skips.ts; it does nothing unless CI=true).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/ci-no-skips.ts'],
  },
});
