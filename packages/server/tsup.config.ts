import { defineConfig } from 'tsup';

export default defineConfig({
  // `jetstream` is the Fastify-free subpath export for direct publishers.
  entry: { index: 'src/index.ts', jetstream: 'src/jetstream/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
