import { defineConfig } from 'tsup';

export default defineConfig({
  // `jetstream` is the Fastify-free subpath export for direct publishers.
  entry: ['src/index.ts', 'src/jetstream.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
});
