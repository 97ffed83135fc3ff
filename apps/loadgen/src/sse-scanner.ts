const LF = 0x0a;
const CR = 0x0d;
const DATA_PREFIX = Buffer.from('data:');
const UPDATED_AT = Buffer.from('updated_at');

/**
 * Reads the number an SSE `data:` line carries: the first number after
 * `updated_at` (flagsmith-rt's `{"updated_at": 1735229888.76}`, or whatever
 * body a peer echoes), else the whole data as a number (a peer that relays a
 * bare timestamp). Returns NaN when the line has neither.
 */
export function valueOfDataLine(line: Buffer, start: number, end: number): number {
  let from = start + DATA_PREFIX.length;
  const field = line.indexOf(UPDATED_AT, from);
  if (field !== -1 && field < end) from = field + UPDATED_AT.length;
  // Skip to the first character that can start a number.
  while (from < end) {
    const c = line[from]!;
    if ((c >= 0x30 && c <= 0x39) || c === 0x2d) break;
    from++;
  }
  let to = from;
  while (to < end) {
    const c = line[to]!;
    // digits . e E + -
    if (
      (c >= 0x30 && c <= 0x39) ||
      c === 0x2e ||
      c === 0x65 ||
      c === 0x45 ||
      c === 0x2b ||
      c === 0x2d
    ) {
      to++;
    } else break;
  }
  if (to === from) return Number.NaN;
  return Number(line.toString('latin1', from, to));
}

function isDataLine(buf: Buffer, start: number, end: number): boolean {
  if (end - start < DATA_PREFIX.length) return false;
  for (let i = 0; i < DATA_PREFIX.length; i++) {
    if (buf[start + i] !== DATA_PREFIX[i]) return false;
  }
  return true;
}

/**
 * Splits an SSE body into lines without building strings, and hands each
 * `data:` line's value to `onValue`. Only a line cut across two reads is
 * copied (kept in `partial`). State is two fields, so a worker can hold
 * ~19,000 of these cheaply.
 */
export class SseLineScanner {
  private partial: Buffer | undefined;

  constructor(private readonly onValue: (value: number) => void) {}

  /** Feeds body bytes `[start, end)` of `buf`. */
  push(buf: Buffer, start: number, end: number): void {
    let lineStart = start;
    while (lineStart < end) {
      const nl = buf.indexOf(LF, lineStart);
      if (nl === -1 || nl >= end) {
        const rest = buf.subarray(lineStart, end);
        this.partial =
          this.partial === undefined ? Buffer.from(rest) : Buffer.concat([this.partial, rest]);
        return;
      }
      if (this.partial !== undefined) {
        const line = Buffer.concat([this.partial, buf.subarray(lineStart, nl)]);
        this.partial = undefined;
        this.line(line, 0, line.length);
      } else {
        this.line(buf, lineStart, nl);
      }
      lineStart = nl + 1;
    }
  }

  private line(buf: Buffer, start: number, end: number): void {
    // [spec] lines may end in CRLF, LF or CR; only CRLF and LF are seen in practice.
    const stop = end > start && buf[end - 1] === CR ? end - 1 : end;
    if (isDataLine(buf, start, stop)) this.onValue(valueOfDataLine(buf, start, stop));
  }
}
