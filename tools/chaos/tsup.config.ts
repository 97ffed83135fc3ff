import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/cli.ts', 'src/h2-ping-cost.ts'],
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The launcher and the protocol are workspace TypeScript: bundle them; NATS stays a dependency.
  noExternal: [/^@flagsmith-rt\//],
});
