import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of a real nats-server, so a test can cut one client's
 * network path while the server keeps running for everyone else.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #up = true;
  /**
   * Delay added to every byte from the server to the client (a slow NATS
   * path: acks, messages and pongs arrive late), in ms.
   */
  delayFromServerMs = 0;
  /**
   * Extra delay of the messages the server delivers on subjects starting with
   * `prefix` (a consumer's deliveries), on top of {@link delayFromServerMs}:
   * their frames then arrive after frames the server sent later (an ack).
   */
  slowSubject: { prefix: string; ms: number } | undefined;
  readonly #parsers = new WeakMap<Socket, FrameSplitter>();

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listens on a free 127.0.0.1 port and forwards to `targetPort`. */
  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, targetPort));
    proxy = new TcpProxy(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `nats://127.0.0.1:<port>` of the proxy. */
  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy not listening');
    return `nats://127.0.0.1:${address.port}`;
  }

  /** Drops every connection and refuses new ones until {@link TcpProxy.up}. */
  down(): void {
    this.#up = false;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Accepts and forwards connections again. */
  up(): void {
    this.#up = true;
  }

  /** Closes the proxy and every connection. */
  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  private accept(client: Socket, targetPort: number): void {
    if (!this.#up) {
      client.destroy();
      return;
    }
    const upstream = new Socket();
    this.#track(client);
    this.#track(upstream);
    upstream.connect(targetPort, '127.0.0.1');
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => this.#fromServer(client, chunk));
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth).on('close', closeBoth);
    upstream.on('error', closeBoth).on('close', closeBoth);
  }

  /** Forwards server bytes to the client, frame by frame once a delay is set. */
  #fromServer(client: Socket, chunk: Buffer): void {
    if (
      this.delayFromServerMs === 0 &&
      this.slowSubject === undefined &&
      !this.#parsers.has(client)
    ) {
      client.write(chunk);
      return;
    }
    let splitter = this.#parsers.get(client);
    if (splitter === undefined) {
      splitter = new FrameSplitter();
      this.#parsers.set(client, splitter);
    }
    for (const frame of splitter.push(chunk)) {
      const slow = this.slowSubject;
      const extra = slow !== undefined && frame.subject?.startsWith(slow.prefix) ? slow.ms : 0;
      const delay = this.delayFromServerMs + extra;
      setTimeout(() => {
        if (!client.destroyed) client.write(frame.bytes);
      }, delay);
    }
  }

  #track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }
}

/**
 * Splits the NATS server-to-client byte stream into whole protocol frames:
 * `MSG <subject> <sid> [reply] <n>` and `HMSG <subject> <sid> [reply] <h> <n>`
 * with their payload, or one control line (`INFO`, `PING`, `+OK`, ...).
 */
class FrameSplitter {
  #buffer = Buffer.alloc(0);

  push(chunk: Buffer): Array<{ bytes: Buffer; subject: string | undefined }> {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    const frames: Array<{ bytes: Buffer; subject: string | undefined }> = [];
    for (;;) {
      const lineEnd = this.#buffer.indexOf('\r\n');
      if (lineEnd < 0) break;
      const line = this.#buffer.subarray(0, lineEnd).toString('latin1');
      const words = line.split(' ');
      let length = lineEnd + 2;
      let subject: string | undefined;
      if (words[0] === 'MSG' || words[0] === 'HMSG') {
        subject = words[1];
        // The payload size is the last word; the payload ends with CRLF.
        length += Number(words[words.length - 1]) + 2;
      }
      if (this.#buffer.length < length) break;
      frames.push({ bytes: Buffer.from(this.#buffer.subarray(0, length)), subject });
      this.#buffer = this.#buffer.subarray(length);
    }
    return frames;
  }
}
