const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 16 * 1024;

/** The parts of a response head a load generator needs. */
export interface ResponseHead {
  /** HTTP status code. */
  status: number;
  /** `Transfer-Encoding: chunked`. */
  chunked: boolean;
  /** `Content-Length`, if given. */
  contentLength: number | undefined;
  /** `Connection: close`: the server closes after this response. */
  close: boolean;
  /** Bytes consumed by the head, including the blank line. */
  length: number;
}

/**
 * Parses a response head at the start of `buf`. Returns `undefined` while it
 * is incomplete, `null` if it is not HTTP or too long.
 */
export function parseResponseHead(buf: Buffer): ResponseHead | undefined | null {
  const end = buf.indexOf(HEADER_END);
  if (end === -1) return buf.length > MAX_HEADER_BYTES ? null : undefined;
  const text = buf.toString('latin1', 0, end);
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
  if (!match) return null;
  const lower = text.toLowerCase();
  const length = /\r\ncontent-length:\s*(\d+)/.exec(lower);
  return {
    status: Number(match[1]),
    chunked: /\r\ntransfer-encoding:[^\r]*chunked/.test(lower),
    contentLength: length ? Number(length[1]) : undefined,
    close: /\r\nconnection:\s*close/.test(lower),
    length: end + HEADER_END.length,
  };
}

enum ChunkState {
  Size = 0,
  SizeExtension = 1,
  SizeLf = 2,
  Data = 3,
  DataCr = 4,
  DataLf = 5,
}

/**
 * Removes `Transfer-Encoding: chunked` framing as bytes arrive, handing each
 * piece of payload on without copying. Some servers (nginx) frame SSE bodies
 * in chunks; an SSE parser must not see the chunk sizes.
 */
export class ChunkedDecoder {
  private state = ChunkState.Size;
  private remaining = 0;

  constructor(private readonly onData: (buf: Buffer, start: number, end: number) => void) {}

  /** Feeds raw body bytes `[start, end)`. */
  push(buf: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case ChunkState.Size: {
          const c = buf[i++]!;
          const digit = hexDigit(c);
          if (digit >= 0) this.remaining = this.remaining * 16 + digit;
          else if (c === 0x0d) this.state = ChunkState.SizeLf;
          else this.state = ChunkState.SizeExtension;
          break;
        }
        case ChunkState.SizeExtension:
          if (buf[i++] === 0x0d) this.state = ChunkState.SizeLf;
          break;
        case ChunkState.SizeLf:
          i++;
          this.state = this.remaining === 0 ? ChunkState.DataCr : ChunkState.Data;
          break;
        case ChunkState.Data: {
          const take = Math.min(this.remaining, end - i);
          this.onData(buf, i, i + take);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = ChunkState.DataCr;
          break;
        }
        case ChunkState.DataCr:
          i++;
          this.state = ChunkState.DataLf;
          break;
        case ChunkState.DataLf:
          i++;
          this.state = ChunkState.Size;
          break;
      }
    }
  }
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
