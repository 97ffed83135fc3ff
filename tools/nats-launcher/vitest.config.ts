import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Tests start real nats-server processes: one file at a time, in forks.
    pool: 'forks',
    fileParallelism: false,
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
