/** Something whose resident memory can be read. */
export interface MemorySource {
  /** Label in reports. */
  readonly name: string;
  /** RSS in MiB, 0 when not running. */
  rssMb(): number;
}

/** Samples the RSS of processes every `intervalMs` and keeps the peak of each. */
export class MemoryWatch {
  private readonly peaks = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: () => readonly MemorySource[],
    private readonly intervalMs = 250,
  ) {}

  /** Starts sampling. */
  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling and returns the highest RSS seen (MiB) over all processes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peak;
  }

  /** Highest RSS seen so far (MiB). */
  get peak(): number {
    let peak = 0;
    for (const value of this.peaks.values()) peak = Math.max(peak, value);
    return Math.round(peak);
  }

  private sample(): void {
    for (const source of this.sources()) {
      const rss = source.rssMb();
      if (rss > (this.peaks.get(source.name) ?? 0)) this.peaks.set(source.name, rss);
    }
  }
}
