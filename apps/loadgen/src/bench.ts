import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineInfo } from './bench/machine.js';
import { type BaselineInfo, QUICK, STANDARD } from './bench/matrix.js';
import { findBinary } from './bench/processes.js';
import { benchMarkdown } from './bench/render/markdown.js';
import { runMatrix, SCENARIOS, type Scenario } from './bench/runner.js';
import { indexHtml, writeBenchmarksMd } from './bench/write.js';

/**
 * `pnpm bench`: runs the standard matrix against flagsmith-rt (`apps/sse`)
 * and nginx+nchan on this machine, writes every report and the generated
 * section of BENCHMARKS.md. `--quick` runs a small matrix to check the
 * machinery; `--only fanout,connect,publish,100k,connect100k,storm,pairs,mix,gaps` runs a part,
 * `--sizes 1000,19000` other fan-out sizes; `--server-node BIN` runs `apps/sse` on another Node;
 * `--baseline DIR` also runs another checkout's built `apps/sse` (`DIR/apps/sse/dist/main.js`) in
 * the `pairs` and `connect` scenarios, alternating with this one, and `--pairs N` sets how many
 * A/B comparisons one run makes (fan-out pairs, rounds of target 5 and of each publish mix); `--benchmarks FILE`
 * and `--reports DIR` write elsewhere. `--render FILE` runs nothing: it writes
 * BENCHMARKS.md and the index page again from a saved run's `bench.json`
 * (after a change to how results are written up).
 */
async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      benchmarks: { type: 'string' },
      reports: { type: 'string' },
      only: { type: 'string' },
      sizes: { type: 'string' },
      render: { type: 'string' },
      'server-node': { type: 'string' },
      baseline: { type: 'string' },
      pairs: { type: 'string' },
    },
  });
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
  if (values.render) {
    renderSaved(resolve(values.render), resolve(values.benchmarks ?? join(root, 'BENCHMARKS.md')));
    return;
  }
  // A quick or partial run never overwrites the committed reports and BENCHMARKS.md.
  const partial = values.quick ? 'quick' : values.only || values.sizes ? 'partial' : undefined;
  const reportsDir = resolve(values.reports ?? join(root, 'apps/loadgen/reports', partial ?? ''));
  const benchmarksPath = resolve(
    values.benchmarks ??
      (partial ? join(reportsDir, 'BENCHMARKS.md') : join(root, 'BENCHMARKS.md')),
  );
  mkdirSync(reportsDir, { recursive: true });
  const natsBinary = findBinary('nats-server', 'NATS_SERVER_BIN');
  const nginxBinary = findBinary('nginx', 'NGINX_BIN');
  let spec = values.quick ? QUICK : STANDARD;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const sseNode = values['server-node'] ? resolve(values['server-node']) : undefined;
  const machine = machineInfo(natsBinary, nginxBinary, sseNode);
  log(`bench: ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}`);

  const only = new Set((values.only?.split(',') ?? [...SCENARIOS]) as Scenario[]);
  for (const s of only) {
    if (!SCENARIOS.includes(s)) throw new Error(`--only takes ${SCENARIOS.join(',')}, not "${s}"`);
  }
  if (values.sizes) spec = { ...spec, sizes: values.sizes.split(',').map(Number) };
  if (values.pairs !== undefined) {
    const pairs = Number(values.pairs);
    if (!Number.isInteger(pairs) || pairs < 1) {
      throw new Error(`--pairs takes a whole number of pairs from 1, not "${values.pairs}"`);
    }
    spec = { ...spec, fanoutPairs: pairs, mixRounds: pairs, connectRounds: pairs };
  }
  const baseline = values.baseline === undefined ? undefined : baselineOf(values.baseline);
  if (baseline) log(`bench: baseline ${baseline.label} (${baseline.main})`);
  const results = await runMatrix(
    spec,
    {
      sseMain: join(root, 'apps/sse/dist/main.js'),
      reportsDir,
      natsBinary,
      nginxBinary,
      sseNode,
      ...(baseline ? { baselineMain: baseline.main } : {}),
    },
    log,
    only,
    baseline?.info,
  );
  writeFileSync(
    join(reportsDir, 'bench.json'),
    `${JSON.stringify({ machine, spec, results }, null, 2)}\n`,
  );
  const markdown = writeUp({ machine, spec, results }, reportsDir, benchmarksPath);
  process.stdout.write(`${markdown}\n`);
  log(`bench: wrote ${benchmarksPath} and ${reportsDir}/index.html`);
}

/**
 * The checkout `--baseline DIR` names: its built entry point, which must exist (build it
 * there with `pnpm install --frozen-lockfile --offline && pnpm build`), and its commit.
 */
function baselineOf(dir: string): { main: string; label: string; info: BaselineInfo } {
  const root = resolve(dir);
  const main = join(root, 'apps/sse/dist/main.js');
  if (!existsSync(main)) {
    throw new Error(
      `--baseline ${dir}: ${main} does not exist; build that checkout first (cd ${root} && pnpm install --frozen-lockfile --offline && pnpm build)`,
    );
  }
  const git = spawnSync('git', ['-C', root, 'describe', '--always', '--dirty'], {
    encoding: 'utf8',
  });
  const commit = git.status === 0 ? git.stdout.trim() : 'unknown';
  const label = `${basename(root)}@${commit}`;
  return { main, label, info: { dir: root, commit, label } };
}

/** A run as `bench.json` keeps it. */
interface SavedRun {
  machine: Parameters<typeof benchMarkdown>[1];
  spec: Parameters<typeof benchMarkdown>[2];
  results: Parameters<typeof benchMarkdown>[0];
}

/**
 * Writes a run up: the index page in its reports directory and the generated
 * section of BENCHMARKS.md. Returns that section's Markdown.
 */
function writeUp(run: SavedRun, reportsDir: string, benchmarksPath: string): string {
  const rel = relative(dirname(benchmarksPath), reportsDir) || '.';
  const markdown = benchMarkdown(run.results, run.machine, run.spec, rel);
  writeFileSync(
    join(reportsDir, 'index.html'),
    indexHtml(run.results, benchMarkdown(run.results, run.machine, run.spec, '.')),
  );
  writeBenchmarksMd(benchmarksPath, markdown);
  return markdown;
}

/** Writes BENCHMARKS.md and the index page next to `jsonPath` from a saved run. */
function renderSaved(jsonPath: string, benchmarksPath: string): void {
  const saved = JSON.parse(readFileSync(jsonPath, 'utf8')) as SavedRun;
  writeUp(saved, dirname(jsonPath), benchmarksPath);
  process.stderr.write(`bench: rendered ${benchmarksPath} from ${jsonPath}\n`);
}

bench().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
