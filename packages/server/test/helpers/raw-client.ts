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

  /** Everything received so far, as latin1 text. */
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** The body received so far (after the head). */
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
