import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Suites start real nats-server processes and listening apps: one file at a time, in forks.
    pool: 'forks',
    fileParallelism: false,
    // The process tests run the built entry point.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
