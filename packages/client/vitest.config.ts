import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The suites start real services and a browser: one file at a time, in a child process.
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
