import { connect, type Socket } from 'node:net';
import { parseResponseHead, type ResponseHead } from './http-response.js';
import type { Endpoint } from './target.js';

const CHUNKED_END = Buffer.from('0\r\n\r\n');
const EMPTY = Buffer.alloc(0);
/**
 * Every connection of a process reads into this buffer (each read is consumed
 * synchronously, leftovers are copied): no allocation and no stream `data`
 * machinery per response.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** The outcome of one request (the body is not kept: no caller reads it). */
export interface HttpOutcome {
  status: number;
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
  /** Bytes of an incomplete response, copied out of the shared read buffer. */
  private buffer: Buffer = EMPTY;
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
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes: number, buf: Uint8Array) => {
          this.onData((buf as Buffer).subarray(0, bytes));
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    this.socket = socket;
    this.buffer = EMPTY;
    this.cause = undefined;
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

  /** `chunk` is a view of the shared read buffer: whatever is kept past this call is copied. */
  private onData(chunk: Buffer): void {
    // A whole response in one read (the usual case) is parsed in place, with no copy.
    const buf = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const head = parseResponseHead(buf);
    if (head === null) {
      this.cause = 'bad_response';
      this.socket?.destroy();
      return;
    }
    const end = head === undefined ? -1 : responseEnd(buf, head);
    if (head === undefined || end === -1) {
      this.buffer = buf === chunk ? Buffer.from(chunk) : buf;
      return;
    }
    this.buffer = end === buf.length ? EMPTY : Buffer.from(buf.subarray(end));
    const pending = this.pending;
    this.pending = undefined;
    // The server will close: the next request goes on a new connection.
    if (head.close) this.close();
    pending?.resolve({ status: head.status });
  }
}

/** Where the response starting at 0 ends in `buf`, or -1 while it is incomplete. */
function responseEnd(buf: Buffer, head: ResponseHead): number {
  if (head.chunked) {
    const at = buf.indexOf(CHUNKED_END, head.length);
    return at === -1 ? -1 : at + CHUNKED_END.length;
  }
  const end = head.length + (head.contentLength ?? 0);
  return buf.length >= end ? end : -1;
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
