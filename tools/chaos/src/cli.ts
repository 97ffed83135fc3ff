import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  describeLoad,
  describeMachine,
  markdownTable,
  type RunInfo,
  type RunReport,
  updateReliabilityFile,
} from './report.js';
import type { ScenarioResult } from './result.js';
import { SCENARIOS } from './scenarios/index.js';
import { DEFAULT_SEED } from './seed.js';

const USAGE = `Usage: chaos [--quick] [--only id,id] [--seed N] [--json file] [--write-reliability]

Runs the fault-injection scenarios against real nats-server and apps/sse processes.
  --quick              CI sizes (a few minutes); default is the full run
  --only ids           comma-separated scenario ids: ${SCENARIOS.map((s) => s.id).join(', ')}
  --seed N             seed of the fuzz cases and random choices (default ${DEFAULT_SEED}, or CHAOS_SEED)
  --json file          where to write the results (default tools/chaos/reports/<mode>.json)
  --write-reliability  replace this mode's section of RELIABILITY.md with the results
Exit code 1 if any check failed (an acknowledged update lost, a crash, a bound exceeded).`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      seed: { type: 'string' },
      json: { type: 'string' },
      'write-reliability': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const mode = values.quick ? 'quick' : 'full';
  const seed = Number(values.seed ?? process.env.CHAOS_SEED ?? DEFAULT_SEED);
  if (!Number.isSafeInteger(seed)) {
    console.error(`--seed must be an integer, got ${values.seed}`);
    return 2;
  }
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((id) => !SCENARIOS.some((s) => s.id === id)) ?? [];
  if (unknown.length > 0) {
    console.error(`Unknown scenario(s): ${unknown.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  const selected = SCENARIOS.filter((s) => !only || only.includes(s.id));
  const report: RunReport = {
    mode,
    seed,
    command: `${envPrefix()}pnpm --filter @flagsmith-rt/chaos chaos${mode === 'quick' ? ' --quick' : ''}${only ? ` --only ${only.join(',')}` : ''}${values.seed ? ` --seed ${seed}` : ''}`,
    startedAt: new Date().toISOString(),
    machine: describeMachine(),
    loadAtStart: describeLoad(),
    loadAtEnd: '',
    results: [],
  };
  for (const scenario of selected) {
    const log = (message: string): void =>
      console.log(`[${new Date().toISOString().slice(11, 19)}] ${scenario.id}: ${message}`);
    log('start');
    let result: ScenarioResult;
    try {
      result = await scenario.run({ mode, seed, log });
    } catch (error) {
      result = {
        id: scenario.id,
        title: scenario.title,
        mode,
        load: '',
        faults: '',
        acknowledged: 0,
        lost: 0,
        crashes: 0,
        failedPublishWindowMs: null,
        convergenceMs: null,
        peakRssMb: 0,
        rssBoundMb: 0,
        figures: {},
        failures: [`scenario aborted: ${error instanceof Error ? error.stack : String(error)}`],
        durationMs: 0,
      };
    }
    report.results.push(result);
    log(
      `${result.failures.length === 0 ? 'PASS' : 'FAIL'} in ${Math.round(result.durationMs / 1000)} s`,
    );
    for (const failure of result.failures) log(`  ${failure}`);
  }
  report.loadAtEnd = describeLoad();

  const here = dirname(fileURLToPath(import.meta.url));
  const packageDir = resolve(here, '..');
  const jsonPath = values.json ?? join(packageDir, 'reports', `${mode}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  // A partial run (--only) replaces its rows in the last report of the same mode.
  const merged = only ? mergeInto(jsonPath, report) : report;
  writeFileSync(jsonPath, `${JSON.stringify(merged, null, 2)}\n`);
  console.log(`\n${markdownTable(report.results)}\n\nResults: ${jsonPath}`);
  if (values['write-reliability']) {
    const file = resolve(packageDir, '..', '..', 'RELIABILITY.md');
    if (updateReliabilityFile(file, merged)) console.log(`Updated ${file}`);
    else console.error(`${file} has no chaos:${mode} markers; not updated.`);
  }
  return report.results.every((r) => r.failures.length === 0) ? 0 : 1;
}

/** The variables that change what a run does, as `NAME=value ` for its command line. */
const RUN_VARIABLES = [
  'CHAOS_SERVICE_NODE',
  'CHAOS_SSE_MAIN',
  'CHAOS_FUZZ_REQUESTS',
  'CHAOS_FUZZ_ROUNDS',
  'CHAOS_H2C',
  'CHAOS_H2_PER_KIND',
  'CHAOS_H2_WORKERS',
];

function envPrefix(): string {
  return RUN_VARIABLES.filter((name) => process.env[name])
    .map((name) => `${name}=${process.env[name]} `)
    .join('');
}

function mergeInto(path: string, report: RunReport): RunReport {
  let previous: RunReport;
  try {
    previous = JSON.parse(readFileSync(path, 'utf8')) as RunReport;
  } catch {
    return report;
  }
  if (previous.mode !== report.mode) return report;
  const byId = new Map(previous.results.map((r) => [r.id, r]));
  const byIdNew = new Set(report.results.map((r) => r.id));
  for (const r of report.results) byId.set(r.id, r);
  const order = SCENARIOS.map((s) => s.id);
  return {
    ...previous,
    runs: [
      ...(previous.runs ?? [runOf(previous)])
        .map((run) => ({ ...run, scenarios: run.scenarios.filter((id) => !byIdNew.has(id)) }))
        .filter((run) => run.scenarios.length > 0),
      runOf(report),
    ],
    results: [...byId.values()].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id)),
  };
}

function runOf(report: RunReport): RunInfo {
  return {
    command: report.command,
    startedAt: report.startedAt,
    loadAtStart: report.loadAtStart,
    loadAtEnd: report.loadAtEnd,
    scenarios: report.results.map((r) => r.id),
  };
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
