// What a browser app ships for `import { subscribe } from '@flagsmith-rt/client'`: the built
// package (dist/, as published) bundled with every dependency it pulls in (@flagsmith-rt/protocol),
// esbuild --minify, then gzip -9. Fails over the budget, or when the figure in README.md is more than
// 2 % off (a change to the protocol package moves it a little; `--update` rewrites it). Runs in
// `check:packages`, after the build.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const BUDGET_BYTES = 4096;
const packageDir = fileURLToPath(new URL('..', import.meta.url));
if (!existsSync(`${packageDir}dist/index.js`)) {
  console.error('dist/index.js is missing: run `pnpm build` first.');
  process.exit(1);
}

const result = await build({
  stdin: { contents: "export { subscribe } from './dist/index.js';", resolveDir: packageDir },
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  write: false,
  metafile: true,
});
const code = result.outputFiles[0].contents;
const gzipped = gzipSync(code, { level: 9 }).length;
const inputs = Object.entries(result.metafile.outputs)[0][1].inputs;
for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
  if (bytesInOutput > 0) console.log(`  ${String(bytesInOutput).padStart(6)} B  ${file}`);
}
console.log(
  `import { subscribe }: ${code.length} B minified, ${gzipped} B minified + gzip -9, dependencies included (budget ${BUDGET_BYTES} B)`,
);
if (gzipped > BUDGET_BYTES) {
  console.error(`Over budget by ${gzipped - BUDGET_BYTES} B.`);
  process.exitCode = 1;
}

const readmeUrl = new URL('../README.md', import.meta.url);
const readme = readFileSync(readmeUrl, 'utf8');
const figure = /\*\*([\d,]+) bytes\*\* minified and gzipped/;
const stated = Number(figure.exec(readme)?.[1]?.replaceAll(',', ''));
const update = process.argv.includes('--update');
if (update ? stated !== gzipped : !(Math.abs(stated - gzipped) <= gzipped * 0.02)) {
  if (update) {
    writeFileSync(
      readmeUrl,
      readme.replace(figure, `**${gzipped.toLocaleString('en-US')} bytes** minified and gzipped`),
    );
    console.log(`README.md updated: ${stated} -> ${gzipped} B`);
  } else {
    console.error(
      `README.md states ${stated} B, more than 2 % off; run \`pnpm --filter @flagsmith-rt/client size --update\` to correct it.`,
    );
    process.exitCode = 1;
  }
}
