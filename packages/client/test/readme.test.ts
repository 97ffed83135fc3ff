// The README's TypeScript examples, typechecked as written: `strict`, against the built package
// (`dist/` through its `exports`, as an app sees it), with node16 and with bundler resolution.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const readme = readFileSync(join(packageDir, 'README.md'), 'utf8');
const examples = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

/** Where the examples are written: inside the package, so `@flagsmith-rt/client` resolves to itself. */
let dir: string;
let files: string[];

beforeAll(() => {
  dir = mkdtempSync(join(packageDir, '.readme-examples-'));
  files = examples.map((code, i) => {
    const file = join(dir, `example-${i + 1}.ts`);
    writeFileSync(file, code);
    return file;
  });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const common: ts.CompilerOptions = {
  strict: true,
  noEmit: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
  types: ['node'],
  skipLibCheck: true,
};

/** The diagnostics of every example, as `file:line: message`. */
function typecheck(options: ts.CompilerOptions): string[] {
  const program = ts.createProgram(files, { ...common, ...options });
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file
      ? `${d.file.fileName.slice(dir.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
      : 'options';
    return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('README examples', () => {
  it('are there: browser, Node, the Flagsmith bridge', () => {
    expect(examples.length).toBeGreaterThanOrEqual(3);
    expect(examples.join('\n')).toContain("from '@flagsmith-rt/client/flagsmith'");
  });

  it('use the service port 8088, never 8000', () => {
    expect(readme).not.toMatch(/:8000\b/);
    for (const code of examples) {
      for (const [url] of code.matchAll(/http:\/\/127\.0\.0\.1:\d+/g)) {
        expect(url).toBe('http://127.0.0.1:8088');
      }
    }
  });

  it('typecheck under strict with node16 resolution', () => {
    expect(
      typecheck({ module: ts.ModuleKind.Node16, moduleResolution: ts.ModuleResolutionKind.Node16 }),
    ).toEqual([]);
  });

  it('typecheck under strict with bundler resolution', () => {
    expect(
      typecheck({
        module: ts.ModuleKind.ESNext,
        moduleResolution: ts.ModuleResolutionKind.Bundler,
      }),
    ).toEqual([]);
  });
});
