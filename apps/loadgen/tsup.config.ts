import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    cli: 'src/cli.ts',
    bench: 'src/bench.ts',
    worker: 'src/worker.ts',
    // Run as its own process by `pnpm bench` (the cheapest acked publish handler).
    'floor-server': 'src/bench/floor-server.ts',
  },
  format: ['esm'],
  sourcemap: true,
  clean: true,
  target: 'node20',
});
