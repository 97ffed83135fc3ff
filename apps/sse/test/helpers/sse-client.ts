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

  /** Everything received, as text. */
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
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
