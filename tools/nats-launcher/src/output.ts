import type { Readable } from 'node:stream';

/** Keeps the last lines a process wrote, and lets callers wait for a line matching a pattern. */
export class OutputTail {
  private readonly lines: string[] = [];
  private readonly partial = new Map<Readable, string>();
  private readonly watchers = new Set<(line: string) => void>();

  constructor(private readonly maxLines = 200) {}

  /** Reads `stream` line by line into the tail. */
  attach(stream: Readable): void {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const text = (this.partial.get(stream) ?? '') + chunk;
      const parts = text.split('\n');
      this.partial.set(stream, parts.pop() ?? '');
      for (const line of parts) this.push(line);
    });
    stream.on('end', () => {
      const rest = this.partial.get(stream);
      if (rest) this.push(rest);
      this.partial.delete(stream);
    });
  }

  /** Calls `onLine` for every line written from now on; returns the function that stops it. */
  watch(onLine: (line: string) => void): () => void {
    this.watchers.add(onLine);
    return () => this.watchers.delete(onLine);
  }

  /** The last `count` lines, joined by newlines. */
  text(count = 40): string {
    return this.lines.slice(-count).join('\n');
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.maxLines) this.lines.shift();
    for (const watcher of this.watchers) watcher(line);
  }
}
