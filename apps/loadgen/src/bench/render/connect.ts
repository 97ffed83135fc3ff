import { counts, int, ms, table } from '../../report/format.js';
import { link, type RenderInput, ratio } from './format.js';

/** Target 5: a connection storm against one process. */
export function connectSection(input: RenderInput): string[] {
  const { results, spec, reportsRel } = input;
  const co = results.connect.ours?.result;
  const cn = results.connect.nchan?.result;
  return [
    `### 5. Connection storm: ${int(spec.storm)} clients at once against one process`,
    '',
    table(
      ['', 'ours', 'nchan', 'ratio'],
      [
        [
          'connected',
          co ? `${int(co.connected)} / ${int(co.clients)}` : '–',
          cn ? `${int(cn.connected)} / ${int(cn.clients)}` : '–',
          '',
        ],
        [
          'time until the last was connected (ms)',
          ms(co?.timeToAllMs),
          ms(cn?.timeToAllMs),
          ratio(co?.timeToAllMs, cn?.timeToAllMs),
        ],
        ['failures', co ? counts(co.failures) : '–', cn ? counts(cn.failures) : '–', ''],
        [
          'server CPU ms',
          int(co?.serverCpuMs),
          int(cn?.serverCpuMs),
          ratio(co?.serverCpuMs, cn?.serverCpuMs),
        ],
        [
          'report',
          link(reportsRel, results.connect.ours),
          link(reportsRel, results.connect.nchan),
          '',
        ],
      ],
    ),
    '',
    ...baselineConnect(input),
  ];
}

/** With `pnpm bench --baseline DIR`: the same storm against the baseline checkout, ours ÷ it. */
function baselineConnect({ results, reportsRel }: RenderInput): string[] {
  const run = results.connect.baseline;
  if (run === undefined || results.baseline === undefined) return [];
  const b = run.result;
  const co = results.connect.ours?.result;
  return [
    `Against the baseline \`${results.baseline.label}\` in the same run:`,
    '',
    table(
      ['', 'baseline', 'ours ÷ baseline'],
      [
        ['connected', `${int(b.connected)} / ${int(b.clients)}`, ''],
        [
          'time until the last was connected (ms)',
          ms(b.timeToAllMs),
          ratio(co?.timeToAllMs, b.timeToAllMs),
        ],
        ['failures', counts(b.failures), ''],
        ['server CPU ms', int(b.serverCpuMs), ratio(co?.serverCpuMs, b.serverCpuMs)],
        ['report', link(reportsRel, run), ''],
      ],
    ),
    '',
  ];
}
