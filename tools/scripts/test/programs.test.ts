import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..', '..');

/** The program names of setup.sh's one list (the `programs` heredoc, first column). */
export function listedPrograms(setupScript: string): Set<string> {
  const body = /programs=\$\(cat <<'LIST'\n([\s\S]*?)\nLIST\n/.exec(setupScript)?.[1];
  if (body === undefined) throw new Error("setup.sh has no programs=$(cat <<'LIST' ... LIST) list");
  return new Set(
    body
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[0])
      .filter((name): name is string => name !== undefined && name.length > 0),
  );
}

/**
 * How a file starts a program by a literal name: the child_process calls,
 * loadgen's `findBinary`, a browser's `executablePath`, and machine.ts's
 * `run(cmd, args)` wrapper. A leading path is dropped (`/usr/bin/chromium` is
 * `chromium`); `exec('a b')` starts `a`.
 */
const TS_PATTERNS = [
  /\b(?:spawn|spawnSync|execFile|execFileSync|exec|execSync|findBinary)\(\s*['"`]([^'"`\s$]+)/g,
  /\bexecutablePath:\s*[^,\n]*?['"`]([^'"`\s$]+)['"`]/g,
];
/** Wrappers that take the program as their first argument, by file. */
const WRAPPERS: Record<string, RegExp> = {
  'apps/loadgen/src/bench/machine.ts': /\brun\(\s*['"`]([^'"`\s$]+)/g,
};
/** Shell scripts: the programs they look up before running them. */
const SH_PATTERN = /\bcommand -v ([A-Za-z0-9._-]+)/g;

/**
 * Shell scripts of documented checks. Not here: setup.sh (the installer: apt-get,
 * npm, tar) and the container scripts (build-image, smoke-image, compose-smoke),
 * which need podman and a built image and say so in their own "Needs:" lines.
 */
const SCRIPTS = ['tools/scripts/check-deploy.sh', 'tools/scripts/paced-mix.sh'];

/** Every program `text` starts by a literal name, with the line it is on. */
export function spawnedPrograms(
  text: string,
  patterns: readonly RegExp[],
): Array<{ program: string; line: number }> {
  const found: Array<{ program: string; line: number }> = [];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      const name = match[1]!;
      // process.execPath and friends are not literals; a bare path segment is.
      const program = basename(name);
      const line = text.slice(0, match.index).split('\n').length;
      found.push({ program, line });
    }
  }
  return found;
}

/** TypeScript and JavaScript sources of tests, helpers, bench, chaos and scripts. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'dist', 'coverage', 'reports', 'vendor', '.cache'].includes(entry.name))
      continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(?:ts|mts|cts|js|mjs|cjs)$/.test(entry.name)) out.push(path);
  }
  return out;
}

function scanRepository(): Array<{ file: string; program: string; line: number }> {
  const hits: Array<{ file: string; program: string; line: number }> = [];
  const files = ['apps', 'packages', 'tools'].flatMap((d) => sourceFiles(join(ROOT, d)));
  for (const path of files) {
    const file = relative(ROOT, path);
    // This file's own examples are not spawns.
    if (file === 'tools/scripts/test/programs.test.ts') continue;
    const wrapper = WRAPPERS[file];
    const patterns = wrapper === undefined ? TS_PATTERNS : [...TS_PATTERNS, wrapper];
    for (const hit of spawnedPrograms(readFileSync(path, 'utf8'), patterns)) {
      hits.push({ file, ...hit });
    }
  }
  for (const file of SCRIPTS) {
    for (const hit of spawnedPrograms(readFileSync(join(ROOT, file), 'utf8'), [SH_PATTERN])) {
      hits.push({ file, ...hit });
    }
  }
  return hits;
}

describe("setup.sh's list of system programs", () => {
  const listed = listedPrograms(readFileSync(join(ROOT, 'tools/scripts/setup.sh'), 'utf8'));
  const hits = scanRepository();

  it('names every program that a test, helper, bench, chaos or documented check starts', () => {
    const missing = hits
      .filter((hit) => !listed.has(hit.program))
      .map((hit) => `${hit.program} (${hit.file}:${hit.line})`);
    expect(
      missing,
      `started but not in tools/scripts/setup.sh's programs list: ${missing.join(', ')}`,
    ).toEqual([]);
  });

  it('finds the programs it knows are started (the scan itself works)', () => {
    const started = new Set(hits.map((hit) => hit.program));
    for (const program of ['nginx', 'openssl', 'python3', 'ss', 'curl', 'chromium', 'promtool']) {
      expect(started, `${program} not found by the scan`).toContain(program);
    }
  });

  it('names the program and the place when one is missing', () => {
    const text = "const a = 1;\nexecFileSync('jq', ['.']);\nspawn(process.execPath, []);\n";
    const found = spawnedPrograms(text, TS_PATTERNS);
    expect(found).toEqual([{ program: 'jq', line: 2 }]);
    expect(listed.has('jq')).toBe(false);
  });
});
