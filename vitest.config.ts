import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration tests start real processes; running files in parallel on a
    // 2-core machine only makes them slower and flakier.
    fileParallelism: true,
    pool: 'forks',
  },
});
