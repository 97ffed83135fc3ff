/**
 * A bounded buffer of delivery latency samples (the update's acceptance by
 * the broker to the last socket write of its fan-out), in milliseconds. Metrics take the samples
 * at scrape time; when nobody reads them the oldest are overwritten.
 */
export class LatencySamples {
  private readonly samples: Float64Array;
  private next = 0;
  private size = 0;

  /** @param capacity - most samples kept between two reads */
  constructor(capacity = 16_384) {
    this.samples = new Float64Array(capacity);
  }

  /** Records one sample. */
  record(milliseconds: number): void {
    this.samples[this.next] = milliseconds;
    this.next = (this.next + 1) % this.samples.length;
    if (this.size < this.samples.length) this.size++;
  }

  /** Returns the samples recorded since the last call, oldest first, and forgets them. */
  take(): number[] {
    const out: number[] = new Array(this.size);
    const start = (this.next - this.size + this.samples.length) % this.samples.length;
    for (let i = 0; i < this.size; i++) {
      out[i] = this.samples[(start + i) % this.samples.length]!;
    }
    this.size = 0;
    return out;
  }
}
