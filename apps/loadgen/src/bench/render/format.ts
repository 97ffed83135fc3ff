import type { MachineInfo } from '../machine.js';
import type { BenchResults, MatrixSpec } from '../matrix.js';

/** What every section renderer reads: one saved run and where its reports are. */
export interface RenderInput {
  results: BenchResults;
  /** The machine the run was measured on (not the one rendering it). */
  machine: MachineInfo;
  spec: MatrixSpec;
  /** The reports directory, relative to BENCHMARKS.md. */
  reportsRel: string;
}

/** `ours ÷ theirs` as `0.96×`, or `–` when either is missing or the quotient is meaningless. */
export const ratio = (ours: number | undefined, theirs: number | undefined): string =>
  ours === undefined ||
  theirs === undefined ||
  !Number.isFinite(ours) ||
  !Number.isFinite(theirs) ||
  theirs === 0
    ? '–'
    : `${(ours / theirs).toFixed(2)}×`;

/** A Markdown link to a run's HTML report, or `–`. */
export const link = (
  reportsRel: string,
  run: { html: string } | undefined,
  text = 'report',
): string => (run ? `[${text}](${reportsRel}/${run.html})` : '–');

/**
 * `met`, `missed`, or, where the same run shows the target cannot be met on
 * this machine (`unreachable` gives the measurement), missed and why.
 */
export const verdict = (met: boolean | undefined, unreachable?: string): string =>
  met === undefined
    ? 'not measured'
    : met
      ? '**met**'
      : unreachable
        ? `**missed**: out of reach on this machine (${unreachable})`
        : '**missed**';

/** µs with one decimal, or `–`. */
export const usText = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : '–');
