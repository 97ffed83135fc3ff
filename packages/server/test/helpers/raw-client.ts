import { connect, type Socket } from 'node:net';
import { waitFor } from './wait-for.js';

/** A raw TCP client that records every byte the server sends. */
export class RawClient {
  readonly socket: Socket;
  private chunks: Buffer[] = [];
  /** Resolves when the server closed the connection. */
  readonly closed: Promise<void>;
  private isClosed = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.chunks.push(chunk));
    socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  /** Connects to 127.0.0.1:port and sends `request` as is. */
  static async open(port: number, request: string): Promise<RawClient> {
    const socket = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawClient(socket);
    socket.write(request);
    return client;
  }

  /** Opens a stream request for `path` with extra header lines. */
  static get(port: number, path: string, headers: string[] = []): Promise<RawClient> {
    const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...headers, '', ''];
    return RawClient.open(port, lines.join('\r\n'));
  }

  /** Every byte received so far, as latin1 text, chunk framing included. */
  get raw(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /**
   * The head and the body received so far, as latin1 text; a chunked body is
   * shown as its complete chunks' payloads, so frames read the same either way.
   */
  get text(): string {
    return dechunk(this.raw);
  }

  /** The body received so far (after the head), chunk framing removed. */
  get body(): string {
    const text = this.text;
    const end = text.indexOf('\r\n\r\n');
    return end < 0 ? '' : text.slice(end + 4);
  }

  /** Whether the server closed the connection. */
  get isEnded(): boolean {
    return this.isClosed;
  }

  /** Waits until the received text satisfies `check`. */
  async until(check: (text: string) => boolean, what: string, timeoutMs = 3000): Promise<string> {
    return waitFor(
      () => check(this.text) && this.text,
      `${what}; got ${JSON.stringify(this.text)}`,
      timeoutMs,
    );
  }

  /** Closes the connection from the client side. */
  close(): void {
    this.socket.destroy();
  }
}

/**
 * `head + payloads` of a response whose head says `Transfer-Encoding: chunked`
 * (complete chunks only; the last-chunk adds nothing); any other text as is.
 * Throws on a malformed chunk, so a framing bug fails the test that sees it.
 */
export function dechunk(text: string): string {
  const headEnd = text.indexOf('\r\n\r\n');
  if (headEnd < 0 || !/\r\ntransfer-encoding: chunked\r\n/i.test(text.slice(0, headEnd + 2))) {
    return text;
  }
  let out = text.slice(0, headEnd + 4);
  let at = headEnd + 4;
  for (;;) {
    const lineEnd = text.indexOf('\r\n', at);
    if (lineEnd < 0) return out;
    const sizeText = text.slice(at, lineEnd);
    if (!/^[0-9a-f]+$/.test(sizeText))
      throw new Error(`bad chunk size line ${JSON.stringify(sizeText)}`);
    const size = Number.parseInt(sizeText, 16);
    const dataEnd = lineEnd + 2 + size;
    if (text.length < dataEnd + 2) return out;
    if (text.slice(dataEnd, dataEnd + 2) !== '\r\n')
      throw new Error('chunk data not followed by CRLF');
    if (size === 0) return out;
    out += text.slice(lineEnd + 2, dataEnd);
    at = dataEnd + 2;
  }
}
