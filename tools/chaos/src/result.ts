/** The two sizes of the suite. */
export type Mode = 'quick' | 'full';

/** One row of the reliability table, with the figures behind it. */
export interface ScenarioResult {
  /** Stable id, e.g. `nats-node-loss`. */
  id: string;
  /** Human title. */
  title: string;
  /** The mode it ran in. */
  mode: Mode;
  /** What ran: processes, subscribers, publish rate. */
  load: string;
  /** What was done to it. */
  faults: string;
  /** Publishes answered with 2xx. */
  acknowledged: number;
  /** (acknowledged update, subscriber) pairs that never arrived. Must be 0. */
  lost: number;
  /** Processes that exited without being told to. Must be 0. */
  crashes: number;
  /** From the first failed publish to the end of the last one, ms (null: not applicable). */
  failedPublishWindowMs: number | null;
  /** See the scenario's notes for where it is measured from, ms (null: not applicable). */
  convergenceMs: number | null;
  /** Highest RSS of any service process, MiB. */
  peakRssMb: number;
  /** The bound asserted on it, MiB. */
  rssBoundMb: number;
  /** Scenario-specific figures. */
  figures: Record<string, number | string>;
  /** Checks that failed; empty means the scenario passed. */
  failures: string[];
  /** Wall time, ms. */
  durationMs: number;
}

/** Collects a scenario's figures and failed checks. */
export class ResultBuilder {
  readonly result: ScenarioResult;
  private readonly started = Date.now();

  constructor(id: string, title: string, mode: Mode) {
    this.result = {
      id,
      title,
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
      failures: [],
      durationMs: 0,
    };
  }

  /** Records a failed check unless `ok`. */
  check(ok: boolean, message: string): boolean {
    if (!ok) this.result.failures.push(message);
    return ok;
  }

  /** Adds a scenario-specific figure. */
  figure(name: string, value: number | string): void {
    this.result.figures[name] = typeof value === 'number' ? Math.round(value * 100) / 100 : value;
  }

  /** Applies the invariants every scenario shares, and stamps the duration. */
  finish(): ScenarioResult {
    const r = this.result;
    this.check(r.lost === 0, `${r.lost} acknowledged update deliveries were lost`);
    this.check(r.crashes === 0, `${r.crashes} processes crashed`);
    if (r.rssBoundMb > 0) {
      this.check(
        r.peakRssMb <= r.rssBoundMb,
        `service RSS peaked at ${r.peakRssMb} MiB, above the ${r.rssBoundMb} MiB bound`,
      );
    }
    r.durationMs = Date.now() - this.started;
    return r;
  }
}
