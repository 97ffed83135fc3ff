import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Scenarios start nats-server and service processes: one file at a time, in forks.
    pool: 'forks',
    fileParallelism: false,
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
