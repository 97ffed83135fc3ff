import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import type { Mode, ScenarioResult } from './result.js';

/** One invocation that produced some of a report's rows. */
export interface RunInfo {
  /** The command. */
  command: string;
  /** ISO start time. */
  startedAt: string;
  /** Load averages at its start. */
  loadAtStart: string;
  /** Load averages at its end. */
  loadAtEnd: string;
  /** The scenarios it ran. */
  scenarios: string[];
}

/** A whole run: where, when, how, and every row. */
export interface RunReport {
  /** The mode of the run. */
  mode: Mode;
  /** The seed of the run. */
  seed: number;
  /** The command that reproduces it. */
  command: string;
  /** ISO start time. */
  startedAt: string;
  /** CPU, cores, memory, host, Node version. */
  machine: string;
  /** 1/5/15-minute load averages at the start (other work on the machine). */
  loadAtStart: string;
  /** Load averages at the end. */
  loadAtEnd: string;
  /** The rows. */
  results: ScenarioResult[];
  /** When rows come from several invocations (`--only` reruns merged in), each of them. */
  runs?: RunInfo[];
}

/** A one-line description of this machine. */
export function describeMachine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  const gib = Math.round(totalmem() / 2 ** 30);
  return `${cpu}, ${cpus().length} cores, ${gib} GiB, ${hostname()}, Node ${process.version}${serviceNode()}, ${process.platform}`;
}

/** ` (the service on Node vX)` when CHAOS_SERVICE_NODE runs it on another Node.js than the suite's. */
function serviceNode(): string {
  const binary = process.env.CHAOS_SERVICE_NODE;
  if (!binary) return '';
  try {
    const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
    return version === process.version ? '' : ` (the service on Node ${version})`;
  } catch {
    return ` (the service on ${binary}, which did not start)`;
  }
}

/** Load averages as `1.2 / 0.9 / 0.5`. */
export function describeLoad(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

function ms(value: number | null): string {
  if (value === null) return 'n/a';
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

function commandFor(id: string, mode: Mode): string {
  return `\`pnpm --filter @flagsmith-rt/chaos chaos ${mode === 'quick' ? '--quick ' : ''}--only ${id}\``;
}

/** The results as a Markdown table (one row per scenario). */
export function markdownTable(results: readonly ScenarioResult[]): string {
  const header =
    '| Scenario | Load | Faults injected | Acknowledged updates | Updates lost | Crashes | Failed-publish window | Convergence time | Memory (peak RSS / bound) | Result | Command |';
  const rule = `|${' --- |'.repeat(11)}`;
  const rows = results.map((r) =>
    [
      r.title,
      r.load,
      r.faults,
      String(r.acknowledged),
      String(r.lost),
      String(r.crashes),
      ms(r.failedPublishWindowMs),
      ms(r.convergenceMs),
      `${r.peakRssMb} / ${r.rssBoundMb} MiB`,
      r.failures.length === 0
        ? 'pass'
        : `**FAIL**: ${r.failures.map((f) => (f.length > 160 ? `${f.slice(0, 160)}…` : f)).join('; ')}`,
      commandFor(r.id, r.mode),
    ]
      .map((cell) => cell.replaceAll('|', '\\|'))
      .join(' | '),
  );
  return [header, rule, ...rows.map((row) => `| ${row} |`)].join('\n');
}

/** Scenario-specific figures, one bullet list per scenario. */
export function markdownFigures(results: readonly ScenarioResult[]): string {
  return results
    .map((r) => {
      const lines = Object.entries(r.figures).map(([k, v]) => `  - ${k}: ${v}`);
      return `- **${r.title}** (${Math.round(r.durationMs / 1000)} s)\n${lines.join('\n')}`;
    })
    .join('\n');
}

/** The generated section of RELIABILITY.md for one run. */
export function markdownSection(report: RunReport): string {
  const runs = report.runs ?? [
    {
      command: report.command,
      startedAt: report.startedAt,
      loadAtStart: report.loadAtStart,
      loadAtEnd: report.loadAtEnd,
      scenarios: report.results.map((r) => r.id),
    },
  ];
  return [
    `Machine: ${report.machine}; seed ${report.seed}`,
    '',
    ...runs.map(
      (run) =>
        `- \`${run.command}\` at ${run.startedAt} (${run.scenarios.join(', ')}); load average (1/5/15 min) ${run.loadAtStart} at start, ${run.loadAtEnd} at end`,
    ),
    '',
    markdownTable(report.results),
    '',
    'Figures per scenario:',
    '',
    markdownFigures(report.results),
  ].join('\n');
}

/**
 * Replaces the text between `<!-- chaos:<mode>:start -->` and `<!-- chaos:<mode>:end -->` in
 * `path` with the run's section. Returns false when the markers are missing.
 */
export function updateReliabilityFile(path: string, report: RunReport): boolean {
  const start = `<!-- chaos:${report.mode}:start -->`;
  const end = `<!-- chaos:${report.mode}:end -->`;
  const text = readFileSync(path, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) return false;
  const updated = `${text.slice(0, from + start.length)}\n${markdownSection(report)}\n${text.slice(to)}`;
  writeFileSync(path, updated);
  return true;
}
