import type { Mode, ScenarioResult } from './result.js';

/** What a scenario gets from the runner. */
export interface ScenarioContext {
  /** Quick (CI) or full size. */
  mode: Mode;
  /** Seed of every random choice that shapes the load (fuzz cases, stalled clients). */
  seed: number;
  /** Progress messages. */
  log: (message: string) => void;
}

/** One fault-injection scenario. */
export interface Scenario {
  /** Stable id, used by `--only`. */
  id: string;
  /** Human title. */
  title: string;
  /** Runs it; never throws for a failed check (see {@link ScenarioResult.failures}). */
  run(context: ScenarioContext): Promise<ScenarioResult>;
}

/** `quick` in quick mode, else `full`. */
export function sized<T>(context: ScenarioContext, quick: T, full: T): T {
  return context.mode === 'quick' ? quick : full;
}

/** Environment keys `chaos-<prefix>-0` ... for a scenario. */
export function environments(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `chaos-${prefix}-${i}`);
}
