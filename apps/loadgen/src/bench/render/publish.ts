import type { PublishResult } from '../../publish.js';
import { counts, int, ms, table } from '../../report/format.js';
import type { BenchResults } from '../matrix.js';
import { ceilingOf, coresFor20k, costText, cpuPerRequest, natsCpuPerRequest } from './cost.js';
import { link, type RenderInput, ratio, usText } from './format.js';

/** Target 3: `queue-change` throughput of ours, nchan and the two reference handlers. */
export function publishSection({ results, spec, machine, reportsRel }: RenderInput): string[] {
  const po = results.publish.ours?.result;
  const pw = results.publish.oursWorkers?.result;
  const pn = results.publish.nchan?.result;
  const pb = results.publish.bare?.result;
  const pj = results.publish.bareJetStream?.result;
  const cell = (r: PublishResult | undefined, f: (r: PublishResult) => string) => (r ? f(r) : '–');
  const columns = [po, pw, pn, pb, pj];
  const row = (name: string, f: (r: PublishResult) => string, last = '') => [
    name,
    ...columns.map((r) => cell(r, f)),
    last,
  ];
  const out = [
    `### 3. \`queue-change\` throughput (concurrency ${spec.publishConcurrency}, ${spec.publishDurationMs / 1000} s, ${spec.publishEnvs} environments, keep-alive)`,
    '',
    table(
      [
        '',
        'ours, 1 process (JetStream file storage, acked)',
        // SSE_WORKERS defaults to the CPU count of the machine that ran it.
        `ours, SSE_WORKERS default (${machine.cores})`,
        'nchan, 1 worker (in memory, no persistence)',
        'bare node:http handler (no NATS, no validation)',
        'bare node:http + one JetStream publish per request (no validation, no dedupe/OCC headers)',
        'ratio (ours 1 process ÷ nchan)',
      ],
      [
        row(
          'requests/s',
          (r) => int(r.requestsPerSecond),
          ratio(po?.requestsPerSecond, pn?.requestsPerSecond),
        ),
        row(
          'p50 / p99 / max ms',
          (r) => `${ms(r.latency.p50)} / ${ms(r.latency.p99)} / ${ms(r.latency.max)}`,
          ratio(po?.latency.p99, pn?.latency.p99),
        ),
        row('statuses', (r) => counts(r.statuses)),
        row('errors / failed', (r) => `${counts(r.errors)} / ${r.failed}`),
        row('server CPU (cores; ours and bare + JetStream include nats-server)', (r) =>
          r.serverCores === undefined ? '–' : r.serverCores.toFixed(2),
        ),
        row('load generator CPU (cores)', (r) => r.clientCores.toFixed(2)),
        [
          'report',
          link(reportsRel, results.publish.ours),
          link(reportsRel, results.publish.oursWorkers),
          link(reportsRel, results.publish.nchan),
          link(reportsRel, results.publish.bare),
          link(reportsRel, results.publish.bareJetStream),
          '',
        ],
      ],
    ),
    '',
  ];
  const floor = publishFloor(results.publish, machine.cores);
  return floor ? [...out, floor, ''] : out;
}

/**
 * What nats-server alone spends per acked publish, set beside the bare
 * handler: the two together at 20,000/s, in cores.
 */
function natsAlone(acked: PublishResult, bare: PublishResult | undefined): string {
  const nats = natsCpuPerRequest(acked);
  if (!Number.isFinite(nats)) return '';
  const natsCores = (nats * 20_000) / 1e6;
  if (!bare)
    return ` nats-server alone needs ${natsCores.toFixed(2)} cores for 20,000 acked publishes/s at that cost.`;
  const b = cpuPerRequest(bare);
  const httpCores = ((b.server + b.client) * 20_000) / 1e6;
  return (
    ` At 20,000/s, nats-server alone would need ${natsCores.toFixed(2)} cores at that cost, on top of the ${httpCores.toFixed(2)} cores the bare handler and the load generator need for the HTTP side: ` +
    `${(natsCores + httpCores).toFixed(2)} cores before any Node code talks to NATS.`
  );
}

/**
 * "Floor on this machine": what the bare node:http handler and the bare
 * handler with one JetStream publish per request cost per request in this
 * run, the requests/s `cores` could answer at that cost with the load
 * generator on the same cores, whether that is below target 3, and ours
 * against them.
 */
function publishFloor(publish: BenchResults['publish'], cores: number): string {
  const bare = publish.bare?.result;
  const acked = publish.bareJetStream?.result;
  const ours = publish.ours?.result;
  if (!bare && !acked) return '';
  const lines: string[] = [];
  if (bare) {
    const b = cpuPerRequest(bare);
    const ceiling = ceilingOf(bare, cores);
    const versus = Number.isFinite(ceiling)
      ? ceiling < 20_000
        ? ': below the 20,000/s of target 3, so with the load generator on the same cores not even a handler that does nothing reaches the target here'
        : ', above the 20,000/s of target 3'
      : '';
    lines.push(
      `**Floor on this machine.** In the same run, a bare node:http handler (reads the body, answers 200 with a small JSON body; no NATS, no validation) answered **${int(bare.requestsPerSecond)} requests/s**. ` +
        `Its server used ${bare.serverCores?.toFixed(2) ?? '–'} cores = ${usText(b.server)} µs of CPU per request and the load generator ${bare.clientCores.toFixed(2)} cores = ${usText(b.client)} µs per request ` +
        '(µs per request = cores × 10⁶ ÷ requests/s). ' +
        `At that cost ${cores} cores answer at most ${cores} cores ÷ (${usText(b.server)} + ${usText(b.client)} µs) = **${int(ceiling)} requests/s**${versus} (20,000/s at that cost needs ${coresFor20k(bare)} cores).`,
    );
  }
  if (acked) {
    const ceiling = ceilingOf(acked, cores);
    const versus = Number.isFinite(ceiling)
      ? ceiling < 20_000
        ? `: **below the 20,000/s of target 3**, so on this machine, with the load generator on the same cores, not even a minimal handler that waits for a JetStream file-storage ack per request reaches the target`
        : ': **not below the 20,000/s of target 3**, so an acked handler can reach the target on this machine'
      : '';
    lines.push(
      ...(lines.length > 0 ? [''] : []),
      `${bare ? '' : '**Floor on this machine.** '}What target 3 asks for is an acknowledgement from JetStream file storage per request. ` +
        `A minimal Node handler that does only that (bare node:http, one JetStream publish per request to its own file-storage stream on the same nats-server, answered on the ack; no validation, no dedupe or expected-sequence headers; \`src/bench/floor-server.ts\`) answered **${int(acked.requestsPerSecond)} requests/s** in the same run: ` +
        `${costText(acked, cores, 'the handler')}${versus} (20,000/s at that cost needs ${coresFor20k(acked)} cores).` +
        natsAlone(acked, bare),
    );
  }
  if (ours) {
    const share =
      acked && acked.requestsPerSecond > 0
        ? ` Ours reaches **${Math.round((ours.requestsPerSecond / acked.requestsPerSecond) * 100)} % of the minimal acked handler** (${int(ours.requestsPerSecond)} ÷ ${int(acked.requestsPerSecond)} requests/s).`
        : '';
    lines.push(
      '',
      `Ours, 1 process, same run: ${int(ours.requestsPerSecond)} requests/s; ` +
        `${costText(ours, cores, 'apps/sse')} (20,000/s would need ${coresFor20k(ours)} cores).${share}`,
    );
  }
  return lines.join('\n');
}
