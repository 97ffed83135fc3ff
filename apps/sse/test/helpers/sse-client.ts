import { request } from 'node:http';
import { connect, type Socket } from 'node:net';

/** Polls `check` every 10 ms until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A raw TCP stream subscriber that records the exact bytes received. */
export class SseClient {
  private readonly chunks: Buffer[] = [];
  private ended = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.ended = true;
    });
  }

  /** Opens `GET /sse/environments/<environment>/stream` on 127.0.0.1:port. */
  static async open(port: number, environment: string): Promise<SseClient> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.write(`GET /sse/environments/${environment}/stream HTTP/1.1\r\nHost: test\r\n\r\n`);
    return new SseClient(socket);
  }

  /** Every byte received, as text, chunk framing included. */
  get raw(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** The head and the body received, as text; a chunked body as its complete chunks' payloads. */
  get text(): string {
    return dechunk(this.raw);
  }

  /** The body after the response head. */
  get body(): string {
    const text = this.text;
    const end = text.indexOf('\r\n\r\n');
    return end < 0 ? '' : text.slice(end + 4);
  }

  /** Whether the connection closed. */
  get isEnded(): boolean {
    return this.ended;
  }

  /** Waits until the received text satisfies `check`. */
  until(check: (text: string) => boolean, what: string, timeoutMs = 5000): Promise<string> {
    return waitFor(
      () => check(this.text) && this.text,
      `${what}; got ${JSON.stringify(this.text)}`,
      timeoutMs,
    );
  }

  /** Closes the connection. */
  close(): void {
    this.socket.destroy();
  }
}

/** The exact bytes of an update event with its id. */
export function frame(updatedAt: string): string {
  return `event: environment_updated\ndata: {"updated_at": ${updatedAt}}\nid: ${updatedAt}\n\n`;
}

/**
 * `head + payloads` of a response whose head says `Transfer-Encoding: chunked`
 * (complete chunks only); any other text as is. Throws on a malformed chunk.
 */
function dechunk(text: string): string {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0 || !/\r\ntransfer-encoding: chunked\r\n/i.test(text.slice(0, headEnd + 2))) {
    return text;
  }
  let out = text.slice(0, headEnd + 4);
  let at = headEnd + 4;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return out;
    const size = Number.parseInt(text.slice(at, lineEnd), 16);
    if (!/^[0-9a-f]+$/.test(text.slice(at, lineEnd))) throw new Error('bad chunk size line');
    const dataEnd = lineEnd + 2 + size;
    if (text.length < dataEnd + 2) return out;
    if (text.slice(dataEnd, dataEnd + 2) !== '\r\n')
      throw new Error('chunk data not followed by CRLF');
    if (size === 0) return out;
    out += text.slice(lineEnd + 2, dataEnd);
    at = dataEnd + 2;
  }
}

/**
 * POSTs `updated_at` to an environment's queue-change over a new TCP connection each time
 * (so the primary or the kernel picks the worker), resolving with the status code.
 */
export function publishOnce(
  port: number,
  token: string,
  environment: string,
  updatedAt: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/sse/environments/${environment}/queue-change`,
        headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ updated_at: updatedAt }));
  });
}
