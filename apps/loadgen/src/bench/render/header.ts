import { table } from '../../report/format.js';
import type { RenderInput } from './format.js';

/** When and on what the run was measured, and how to reproduce it. */
export function header({ results, machine, reportsRel }: RenderInput): string[] {
  return [
    `Measured ${results.startedAt} → ${results.finishedAt} with \`pnpm bench\` (load generator on the same cores as the servers).`,
    '',
    table(
      ['', ''],
      [
        ['CPU', `${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB`],
        ['kernel / open files', `${machine.kernel} / ${machine.openFilesLimit} per process`],
        ['node', machine.node],
        ...(machine.serverNode ? [['node of apps/sse', machine.serverNode]] : []),
        ['nats-server', machine.natsServer],
        ['nginx / nchan', `${machine.nginx} / libnginx-mod-nchan ${machine.nchan}`],
        ['machine load before', results.loadBefore],
        ['machine load after', results.loadAfter],
      ],
    ),
    '',
    `Reproduce: \`pnpm build && pnpm bench\` (starts nats-server, \`apps/sse\` and nginx+nchan on 127.0.0.1, stops them after). ` +
      `Each run's HTML report (plots) and JSON are in [\`${reportsRel}\`](${reportsRel}/index.html). Ratios are ours ÷ nchan: below 1 is faster for times and smaller for memory; above 1 is more for throughput.`,
    '',
  ];
}

/** The runs that failed, if any. */
export function failures({ results }: RenderInput): string[] {
  return results.errors.length > 0
    ? ['**Runs that failed:**', '', ...results.errors.map((e) => `- ${e}`), '']
    : [];
}
