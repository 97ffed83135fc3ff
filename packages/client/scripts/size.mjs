// Size of the browser build: esbuild --bundle --minify (eventsource-parser excluded), then gzip.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const BUDGET_BYTES = 4096;
const result = await build({
  entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  external: ['eventsource-parser'],
  write: false,
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
console.log(
  `minified: ${code.length} B, minified+gzipped: ${gzipped} B (budget ${BUDGET_BYTES} B, excluding eventsource-parser)`,
);
if (gzipped > BUDGET_BYTES) {
  console.error('Over budget.');
  process.exitCode = 1;
}
