import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup/yieldBetweenTests.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // GPU backends share one device per process; keep files isolated but few workers on 2 cores.
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
});
