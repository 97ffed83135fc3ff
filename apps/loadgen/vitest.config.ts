import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The smoke tests start a real apps/sse process and forked load generator workers.
    pool: 'forks',
    fileParallelism: false,
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
