/**
 * Holds refused stream requests before they are answered (REFUSAL.md).
 *
 * Some SDKs reconnect with no delay after a response that ends without an
 * error: the Flagsmith Python SDK treats a `503` with a body as such a
 * response, so answering at once invites thousands of requests a second per
 * client. Holding each refusal for `holdMs` bounds that to about one request
 * per second per client. At most `max` are held at once (each holds a
 * socket); beyond that the caller closes the connection instead, which SDKs
 * treat as an error and back off on. A hold ends early when its client goes
 * away, and all end at once on {@link RefusalHolds.releaseAll} (shutdown).
 */
export class RefusalHolds {
  private readonly holdMs: number;
  private readonly max: number;
  private readonly held = new Set<() => void>();
  private released = false;

  /**
   * @param holdMs how long each refusal is held; 0 answers at once.
   * @param max how many may be held at once.
   */
  constructor(holdMs: number, max: number) {
    this.holdMs = holdMs;
    this.max = max;
  }

  /** Refusals held right now. */
  get size(): number {
    return this.held.size;
  }

  /**
   * Holds one refusal. Resolves after the hold, or as soon as `gone` fires
   * or {@link RefusalHolds.releaseAll} runs; resolves at once when holding is
   * off or over. Returns `undefined` when `max` are already held: close the
   * connection instead of answering.
   */
  hold(gone: (listener: () => void) => void): Promise<void> | undefined {
    if (this.holdMs === 0 || this.released) return Promise.resolve();
    if (this.held.size >= this.max) return undefined;
    return new Promise<void>((resolve) => {
      const release = (): void => {
        if (!this.held.delete(release)) return;
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(release, this.holdMs);
      timer.unref();
      this.held.add(release);
      gone(release);
    });
  }

  /** Ends every hold now and holds no more (the server is closing). */
  releaseAll(): void {
    this.released = true;
    for (const release of [...this.held]) release();
  }
}
