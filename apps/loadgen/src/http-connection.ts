import { connect, type Socket } from 'node:net';
import { parseResponseHead } from './http-response.js';
import type { Endpoint } from './target.js';

const CHUNKED_END = Buffer.from('0\r\n\r\n');

/** The outcome of one request. */
export interface HttpOutcome {
  status: number;
  /** The response body (small responses only; bodies are not kept otherwise). */
  body: string;
}

/** A request that got no response. */
export class RequestFailure extends Error {
  override readonly name = 'RequestFailure';
  /** `ECONNREFUSED`, `ECONNRESET`, `closed`, `bad_response`, … */
  readonly reason: string;

  constructor(reason: string) {
    super(`request failed: ${reason}`);
    this.reason = reason;
  }
}

/**
 * One keep-alive HTTP/1.1 connection on a raw socket, one request at a time.
 * Cheaper than `node:http` per request, so the load generator can drive tens
 * of thousands of requests per second from the same two cores as the server.
 * Reconnects on the next request after the server closed it.
 */
export class KeepAliveConnection {
  private socket: Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending:
    | { resolve: (o: HttpOutcome) => void; reject: (e: RequestFailure) => void }
    | undefined;
  private cause: string | undefined;

  constructor(
    private readonly endpoint: Endpoint,
    private readonly localAddress?: string,
  ) {}

  /** Sends a complete request (head and body bytes) and resolves with the response. */
  request(bytes: Buffer): Promise<HttpOutcome> {
    const socket = this.socket ?? this.open();
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      socket.write(bytes);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private open(): Socket {
    const socket = connect({
      host: this.endpoint.host,
      port: this.endpoint.port,
      ...(this.localAddress === undefined ? {} : { localAddress: this.localAddress }),
    });
    socket.setNoDelay(true);
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    this.cause = undefined;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      this.cause = error.code ?? error.message;
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      const pending = this.pending;
      this.pending = undefined;
      pending?.reject(new RequestFailure(this.cause ?? 'closed'));
    });
    return socket;
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const head = parseResponseHead(this.buffer);
    if (head === undefined) return;
    if (head === null) {
      this.cause = 'bad_response';
      this.socket?.destroy();
      return;
    }
    let end: number;
    if (head.chunked) {
      const at = this.buffer.indexOf(CHUNKED_END, head.length);
      if (at === -1) return;
      end = at + CHUNKED_END.length;
    } else {
      end = head.length + (head.contentLength ?? 0);
      if (this.buffer.length < end) return;
    }
    const body = this.buffer.length <= 4096 ? this.buffer.toString('utf8', head.length, end) : '';
    this.buffer = this.buffer.subarray(end);
    const pending = this.pending;
    this.pending = undefined;
    // The server will close: the next request goes on a new connection.
    if (head.close) this.close();
    pending?.resolve({ status: head.status, body });
  }
}

/** Builds the bytes of a request with a body. */
export function requestBytes(
  method: string,
  endpoint: Endpoint,
  headers: readonly string[],
  body: string,
): Buffer {
  const payload = Buffer.from(body, 'utf8');
  const lines = [
    `${method} ${endpoint.path} HTTP/1.1`,
    `Host: ${endpoint.authority}`,
    ...headers,
    `Content-Length: ${payload.length}`,
    '',
    '',
  ];
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'latin1'), payload]);
}
