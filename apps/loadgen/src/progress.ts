/**
 * A one-line progress display on a terminal (stderr), silent when stderr is
 * not a TTY so that logs and CI output stay clean.
 */
export class Progress {
  private readonly enabled: boolean;
  private lastLength = 0;

  constructor(enabled = process.stderr.isTTY === true) {
    this.enabled = enabled;
  }

  /** Replaces the progress line. */
  update(text: string): void {
    if (!this.enabled) return;
    const pad = Math.max(0, this.lastLength - text.length);
    process.stderr.write(`\r${text}${' '.repeat(pad)}`);
    this.lastLength = text.length;
  }

  /** Ends the line, leaving the last text visible. */
  done(text?: string): void {
    if (!this.enabled) return;
    if (text !== undefined) this.update(text);
    process.stderr.write('\n');
    this.lastLength = 0;
  }
}
