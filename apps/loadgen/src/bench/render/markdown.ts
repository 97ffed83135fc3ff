import type { MachineInfo } from '../machine.js';
import type { BenchResults, MatrixSpec } from '../matrix.js';
import { acceptSection } from './accept.js';
import { commandsSection } from './commands.js';
import { connectSection } from './connect.js';
import { fanoutSection } from './fanout.js';
import type { RenderInput } from './format.js';
import { gapsSection } from './gaps.js';
import { goalsTable } from './goals.js';
import { growthSection } from './growth.js';
import { failures, header } from './header.js';
import { hundredKSection } from './hundred-k.js';
import { memorySection } from './memory.js';
import { mixSection } from './mix.js';
import { pairsSection } from './pairs.js';
import { publishSection } from './publish.js';
import { stormSection } from './storm.js';
import { summaryTable } from './summary.js';

/** The sections after the summary, in order: one per target, then the commands. */
const SECTIONS: ReadonlyArray<(input: RenderInput) => string[]> = [
  fanoutSection,
  hundredKSection,
  publishSection,
  memorySection,
  connectSection,
  growthSection,
  // Issue #16's scenarios: each renders only when the run has it.
  acceptSection,
  stormSection,
  pairsSection,
  mixSection,
  gapsSection,
  commandsSection,
];

/**
 * The generated Markdown of BENCHMARKS.md for one run. Everything it prints
 * comes from the run (`machine` is the measuring machine's), so rendering a
 * saved run elsewhere prints the same text.
 */
export function benchMarkdown(
  results: BenchResults,
  machine: MachineInfo,
  spec: MatrixSpec,
  reportsRel: string,
): string {
  const input: RenderInput = { results, machine, spec, reportsRel };
  return [
    ...header(input),
    summaryTable(input),
    '',
    ...goalsTable(input),
    ...failures(input),
    ...SECTIONS.flatMap((section) => section(input)),
  ].join('\n');
}
