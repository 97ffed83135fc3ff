import type { ConnectResult } from '../../connect.js';
import { int, ms, table } from '../../report/format.js';
import type { BenchResults, Contender, Pair, Run } from '../matrix.js';
import { link, type RenderInput, ratio, verdict } from './format.js';
import { median } from './pairs.js';

/** The goal of issue #16: ours spends at most this multiple of nchan's CPU per accepted connection. */
export const ACCEPT_GOAL = 1.5;

/** Ours ÷ nchan server CPU per 1,000 accepted connections, or undefined. */
export function acceptRatio(
  ours: ConnectResult | undefined,
  nchan: ConnectResult | undefined,
): number | undefined {
  const o = ours?.serverCpuMsPer1000;
  const n = nchan?.serverCpuMsPer1000;
  return o === undefined || n === undefined || n === 0 ? undefined : o / n;
}

/** `, N % user` when the run split user and kernel time (older runs did not). */
function userShare(r: ConnectResult): string {
  if (r.serverUserCpuMs === undefined || !r.serverCpuMs) return '';
  return `, ${Math.round((100 * r.serverUserCpuMs) / r.serverCpuMs)} % user`;
}

/** Every round of target 5, round 1 first (runs from before the rounds have one). */
export function connectRounds(
  results: BenchResults,
): Array<Pair<ConnectResult> & { order?: Contender[] }> {
  return [results.connect, ...(results.connectRounds ?? [])];
}

/**
 * Ours ÷ nchan server CPU per 1,000 accepted connections at 19,000: the median
 * over the rounds that measured both, or undefined.
 */
export function acceptRatio19k(results: BenchResults): number | undefined {
  return medianOfRounds(results, (r) => acceptRatio(r.ours?.result, r.nchan?.result));
}

/** The median over the rounds of target 5 of `who`'s server CPU per 1,000 accepted connections. */
export function perThousand19k(results: BenchResults, who: Contender): number | undefined {
  return medianOfRounds(results, (r) => r[who]?.result.serverCpuMsPer1000);
}

/** The median of `value` over the rounds of target 5 that have it, or undefined. */
function medianOfRounds(
  results: BenchResults,
  value: (round: Pair<ConnectResult>) => number | undefined,
): number | undefined {
  const values = connectRounds(results).flatMap((r) => {
    const x = value(r);
    return x === undefined ? [] : [x];
  });
  return values.length === 0 ? undefined : median(values);
}

/** Whether the run measured connection cost the way issue #16 asks (older runs did not). */
export function hasAcceptCost({ results }: RenderInput): boolean {
  return (
    results.connectHundredK !== undefined ||
    results.connect.ours?.result.serverCpuMsPer1000 !== undefined
  );
}

/** Issue #16 goal 1: server CPU per accepted connection and connect rate, at 19,000 and at 100k. */
export function acceptSection(input: RenderInput): string[] {
  if (!hasAcceptCost(input)) return [];
  const { results, spec, reportsRel } = input;
  const figure = (r: ConnectResult | undefined) =>
    r
      ? `${int(r.connected)} / ${int(r.clients)} in ${ms(r.timeToAllMs)} ms (${int(r.connectsPerSecond)}/s)`
      : '–';
  const cpu = (r: ConnectResult | undefined) =>
    r?.serverCpuMs === undefined
      ? '–'
      : `${int(r.serverCpuMs)} ms (**${ms(r.serverCpuMsPer1000)} ms per 1,000**${userShare(r)}; PID ${r.options.pids[0]} itself ${int(r.serverOwnCpuMs?.[0])} ms)`;
  const row = (
    scale: string,
    o: Run<ConnectResult> | undefined,
    n: Run<ConnectResult> | undefined,
    r = acceptRatio(o?.result, n?.result),
  ) => {
    return [
      scale,
      figure(o?.result),
      cpu(o?.result),
      figure(n?.result),
      cpu(n?.result),
      ratio(o?.result.connectsPerSecond, n?.result.connectsPerSecond),
      r === undefined ? '–' : `${r.toFixed(2)}×`,
      verdict(r === undefined ? undefined : r <= ACCEPT_GOAL),
      `${link(reportsRel, o, 'ours')} · ${link(reportsRel, n, 'nchan')}`,
    ];
  };
  const k = results.connectHundredK;
  const rounds = connectRounds(results);
  const perK = (r: Run<ConnectResult> | undefined) => {
    const user = r?.result.serverUserCpuMs;
    const connected = r?.result.connected ?? 0;
    const total = ms(r?.result.serverCpuMsPer1000);
    return user === undefined || connected === 0
      ? total
      : `${total} (user ${ms((user * 1000) / connected)})`;
  };
  const withBaseline = rounds.some((r) => r.baseline !== undefined);
  const roundRows = rounds.map((r, i) => [
    String(i + 1),
    (r.order ?? []).join(', '),
    perK(r.ours),
    ...(withBaseline ? [perK(r.baseline)] : []),
    perK(r.nchan),
    ratio(r.ours?.result.serverCpuMsPer1000, r.nchan?.result.serverCpuMsPer1000),
    ...(withBaseline
      ? [ratio(r.ours?.result.serverCpuMsPer1000, r.baseline?.result.serverCpuMsPer1000)]
      : []),
  ]);
  const roundsTable =
    rounds.length > 1
      ? [
          `Every round of the ${int(spec.storm)} (server CPU per 1,000 accepted connections, ms, and of that the user-space part; the rest is kernel time; each round starts each server afresh, the order rotating):`,
          '',
          table(
            [
              'round',
              'order',
              'ours',
              ...(withBaseline ? ['baseline'] : []),
              'nchan',
              'ours ÷ nchan',
              ...(withBaseline ? ['ours ÷ baseline'] : []),
            ],
            roundRows,
          ),
          '',
        ]
      : [];
  return [
    `### 7. Cost of accepting connections (issue #16 goal 1: server CPU per accepted stream ≤ ${ACCEPT_GOAL}× nchan's)`,
    '',
    table(
      [
        'clients at once',
        'ours connected (rate)',
        'ours server CPU',
        'nchan connected (rate)',
        'nchan server CPU',
        'rate ratio',
        'CPU per connection ratio',
        'verdict',
        'reports',
      ],
      [
        row(
          rounds.length > 1
            ? `${int(spec.storm)}, one process each (round 1; ratio: median of ${rounds.length} rounds)`
            : `${int(spec.storm)}, one process each`,
          results.connect.ours,
          results.connect.nchan,
          acceptRatio19k(results),
        ),
        ...(k
          ? [
              row(
                `${int(spec.connectHundredK)}: ours \`SSE_WORKERS=${k.workers}\`, nginx ${k.workers} workers (reuseport)`,
                k.ours,
                k.nchan,
              ),
            ]
          : []),
      ],
    ),
    '',
    'Server CPU is every server process (a cluster primary and its workers, nginx and its workers) from the first attempt until the last client was connected; "itself" is the first process alone (the cluster primary, or nginx\'s master).',
    '',
    ...roundsTable,
  ];
}
