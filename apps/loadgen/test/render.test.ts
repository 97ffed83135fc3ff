import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { BEGIN, END } from '../src/bench/write.js';

// The saved run behind the committed BENCHMARKS.md (2026-11-23, 15:12 UTC): rebuilt from the
// committed apps/loadgen/reports/*.json with the commands and machine rows of that BENCHMARKS.md,
// minus the fields only the per-run HTML plots read (samples, CDFs). Its generated section is
// the golden file next to it, byte for byte as committed.
const FIXTURE = fileURLToPath(new URL('./fixtures/bench-2026-11-23.json', import.meta.url));
const GOLDEN = fileURLToPath(new URL('./fixtures/bench-2026-11-23.md', import.meta.url));
const BENCH_JS = fileURLToPath(new URL('../dist/bench.js', import.meta.url));

describe('pnpm bench --render', () => {
  const dir = mkdtempSync(join(tmpdir(), 'loadgen-render-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Renders `saved` as `pnpm bench --render` does, laid out as in the repository; returns the generated section. */
  function render(name: string, saved: unknown): string {
    const reports = join(dir, name, 'apps/loadgen/reports');
    mkdirSync(reports, { recursive: true });
    writeFileSync(join(reports, 'bench.json'), JSON.stringify(saved));
    const benchmarks = join(dir, name, 'BENCHMARKS.md');
    execFileSync(process.execPath, [
      BENCH_JS,
      '--render',
      join(reports, 'bench.json'),
      '--benchmarks',
      benchmarks,
    ]);
    const text = readFileSync(benchmarks, 'utf8');
    return text.slice(text.indexOf(BEGIN) + BEGIN.length + 1, text.indexOf(END));
  }

  it('writes the committed section again, byte for byte, from its saved run', () => {
    const saved = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    expect(render('golden', saved)).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it("uses the measuring machine's core count, not the rendering machine's", () => {
    const saved = JSON.parse(readFileSync(FIXTURE, 'utf8'));
    // Any count but this machine's: rendering must not consult os.cpus().
    const cores = cpus().length * 4;
    saved.machine.cores = cores;
    const text = render('cores', saved);
    const h = saved.results.hundredK.ours.result;
    const floor = (h.cost.cpuMsDuringUpdates + h.loadgen.workerCpuMsDuringUpdates) / 10 / cores;
    expect(text).toContain(`| CPU | AMD EPYC, ${cores} cores, 24 GiB |`);
    expect(text).toContain(`CPU-bound floor of one fan-out on these ${cores} cores (ms)`);
    expect(text).toContain(`(CPU floor ${floor.toFixed(0)} ms)`);
    expect(text).toContain(
      `The floor is (server + load generator CPU per update) ÷ ${cores} cores`,
    );
    expect(text).toContain(`ours, SSE_WORKERS default (${cores})`);
    expect(text).toContain(
      `At that cost ${cores} cores answer at most ${cores} cores ÷ (43.4 + 33.0 µs)`,
    );
    expect(text).not.toContain(`on these ${cpus().length} cores`);
  });
});
