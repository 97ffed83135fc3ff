import type { Run } from '../matrix.js';
import type { RenderInput } from './format.js';
import { mixRounds } from './mix.js';

/** Every run of the bench, in the order the sections show them. */
export function allRuns({ results }: RenderInput): Array<Run<unknown>> {
  return [
    ...results.fanout.ours,
    ...results.fanout.nchan,
    results.connect.baseline,
    results.connect.ours,
    results.connect.nchan,
    ...(results.connectRounds ?? []).flatMap((p) => [p.baseline, p.ours, p.nchan]),
    results.publish.ours,
    results.publish.oursWorkers,
    results.publish.nchan,
    results.publish.bare,
    results.publish.bareJetStream,
    results.hundredK.ours,
    results.hundredK.nchan,
    results.connectHundredK?.ours,
    results.connectHundredK?.nchan,
    results.storm?.ours,
    results.storm?.nchan,
    ...(results.fanoutPairs ?? []).flatMap((p) => [p.baseline, p.ours, p.nchan]),
    ...(['hot', 'spread'] as const).flatMap((m) => {
      const mix = results.publishMix?.[m];
      if (mix === undefined) return [];
      return [...mixRounds(mix).flatMap((r) => r.order.map((slot) => r[slot])), mix.nchan];
    }),
    results.gaps?.ours,
    results.gaps?.nchan,
  ].filter((r): r is Run<never> => r !== undefined);
}

/** The exact command of every run, to reproduce one alone. */
export function commandsSection(input: RenderInput): string[] {
  return [
    '### Commands',
    '',
    'Each run is exactly this command (ports and PIDs are those of the servers the bench started; `SSE_AUTHENTICATION_TOKEN` is set in the environment):',
    '',
    '```sh',
    ...allRuns(input).map((r) => r.command),
    '```',
  ];
}
