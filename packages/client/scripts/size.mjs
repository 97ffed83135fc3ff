// Size of the browser build: esbuild --bundle --minify (eventsource-parser excluded), then gzip.
// Fails over budget, or when the figure in README.md is stale (`--update` rewrites it).
import { readFileSync, writeFileSync } from 'node:fs';
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

const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const figure = /\*\*([\d,]+) bytes\*\* minified and gzipped/;
const stated = Number(figure.exec(readme)?.[1]?.replaceAll(',', ''));
if (stated !== gzipped) {
  if (process.argv.includes('--update')) {
    writeFileSync(
      readmeUrl,
      readme.replace(figure, `**${gzipped.toLocaleString('en-US')} bytes** minified and gzipped`),
    );
    console.log(`README.md updated: ${stated} -> ${gzipped} B`);
  } else {
    console.error(`README.md states ${stated} B; run \`pnpm run size --update\` to correct it.`);
    process.exitCode = 1;
  }
}
