import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Suites start real nats-server processes: one file at a time, in forks.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
